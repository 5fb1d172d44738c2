/**
 * The exact commands an operator runs, exported by the stack so they always match the deployed
 * names. Jobs started by hand use `$JOB`, set by the command that creates them, so the follow-up
 * commands can be pasted as they are in the same shell.
 */
import type { IJob } from "kubernetes-models/batch/v1/Job";
import type { IPodSpec } from "kubernetes-models/v1/PodSpec";
import { DEPLOY_CHECK_COMMAND } from "../../runner/src/contract.js";

export interface OperatorCommandSettings {
  namespace: string;
  adhocCronJob: string;
  drillCronJob?: string;
  /** Selects every object of the stack (for `kubectl get`). */
  instanceSelector: string;
  /** A runner pod for one-off commands (`list`, `status`), with the same identity and policy. */
  oneOffPod: (args: string[]) => { labels: Record<string, string>; spec: IPodSpec; name: string; image: string };
  /** The restore Job's pod for given runner args (media mounted read-write, no affinity). */
  restorePod?: {
    namePrefix: string;
    labels: Record<string, string>;
    spec: (args: string[]) => IPodSpec;
    activeDeadlineSeconds: number;
  };
  /**
   * The deploy check's pod (the restore role and identity, no media volume): exported so it can be
   * run again by hand after rotating the restore role's password or the identity Secret.
   */
  deployCheckPod?: IPodSpec;
}

/** Placeholders the shell fills in from the variables set by the same command. */
export const JOB_PLACEHOLDER = "$JOB";
export const BACKUP_ID_PLACEHOLDER = "$BACKUP_ID";

/** Runner args of an in-cluster restore: non-interactive, both parts, sessions ended at the swap. */
export function restoreArgs(backupRef: string): string[] {
  return ["restore", backupRef, "--yes", "--terminate-connections"];
}

/** Runner args of the in-cluster undo: the newest restore of the live target, put back. */
export const UNDO_ARGS = ["undo-restore", "--yes", "--terminate-connections"];

/**
 * Runner args of the in-cluster cleanup: each kept copy goes once its own keepUntil (the time its
 * restore printed) has passed (issue 21 item 2: no default window may cut that short).
 */
export const CLEANUP_ARGS = ["cleanup", "--yes"];

/** ... and of "drop the kept copies now", as the restore's summary prints it (`--older-than 0`). */
export const CLEANUP_NOW_ARGS = ["cleanup", "--older-than", "0", "--yes"];

/**
 * A one-shot Job on the restore Job's pod (restore, undo, cleanup). Never retried (backoffLimit 0):
 * a restore that failed left the live data as it was, and a person should read why before running
 * it again. Kept a week for its logs.
 */
export function restoreJob(
  s: NonNullable<OperatorCommandSettings["restorePod"]>,
  namespace: string,
  jobName: string,
  backupRefOrArgs: string | string[],
): IJob {
  const args = typeof backupRefOrArgs === "string" ? restoreArgs(backupRefOrArgs) : backupRefOrArgs;
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: jobName, namespace, labels: s.labels },
    spec: {
      backoffLimit: 0,
      activeDeadlineSeconds: s.activeDeadlineSeconds,
      ttlSecondsAfterFinished: 7 * 86_400,
      template: { metadata: { labels: s.labels }, spec: s.spec(args) },
    },
  };
}

function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** `kubectl run` with the pod spec of the CronJobs (security context, ConfigMap, secretKeyRef). */
export function oneOffRunnerCommand(namespace: string, pod: ReturnType<OperatorCommandSettings["oneOffPod"]>): string {
  const overrides = JSON.stringify({ apiVersion: "v1", metadata: { labels: pod.labels }, spec: pod.spec });
  return [
    `kubectl --namespace ${namespace} run ${pod.name}`,
    "--rm --stdin --quiet --restart=Never",
    `--image=${pod.image}`,
    "--override-type=merge",
    `--overrides=${shellQuote(overrides)}`,
  ].join(" ");
}

export function operatorCommands(s: OperatorCommandSettings): Record<string, string> {
  const ns = `--namespace ${s.namespace}`;
  const stamp = "$(date -u +%Y%m%d-%H%M%S)";
  const commands: Record<string, string> = {
    startAdhocBackup: `JOB=${s.adhocCronJob}-${stamp} && kubectl ${ns} create job --from=cronjob/${s.adhocCronJob} "$JOB"`,
    followJob: `kubectl ${ns} logs --follow "job/$JOB"`,
    waitForJob: `kubectl ${ns} wait --for=condition=complete --timeout=6h "job/$JOB"`,
    jobLogs: `kubectl ${ns} logs "job/$JOB"`,
    listJobs: `kubectl ${ns} get cronjobs,jobs --selector ${s.instanceSelector}`,
    listBackups: oneOffRunnerCommand(s.namespace, s.oneOffPod(["list"])),
    status: oneOffRunnerCommand(s.namespace, s.oneOffPod(["status"])),
  };
  if (s.restorePod) {
    const pod = s.restorePod;
    // An unquoted heredoc: the shell substitutes $JOB and the named variables inside the manifest
    // (the JSON holds no other $, backslash or backquote).
    const jobCommand = (namePrefix: string, args: string | string[], variables: string, on = pod) => {
      const manifest = JSON.stringify(restoreJob(on, s.namespace, JOB_PLACEHOLDER, args));
      if (/[`\\]|\$(?!JOB\b|BACKUP_ID\b)/.test(manifest))
        throw new Error("the restore manifest holds a character the shell would expand");
      return `JOB=${namePrefix}-${stamp} && ${variables}kubectl ${ns} create -f - <<EOF\n${manifest}\nEOF`;
    };
    // Set BACKUP_ID first; "latest" = newest complete set.
    commands.startRestore = jobCommand(pod.namePrefix, BACKUP_ID_PLACEHOLDER, `BACKUP_ID="\${BACKUP_ID:-latest}" && `);
    commands.startUndoRestore = jobCommand(`${pod.namePrefix}-undo`, UNDO_ARGS, "");
    // Kept copies whose keepUntil has passed; startCleanupNow drops every kept copy at once.
    commands.startCleanup = jobCommand(`${pod.namePrefix}-cleanup`, CLEANUP_ARGS, "");
    commands.startCleanupNow = jobCommand(`${pod.namePrefix}-cleanup`, CLEANUP_NOW_ARGS, "");
    const check = s.deployCheckPod;
    if (check)
      commands.startDeployCheck = jobCommand(`${pod.namePrefix}-check`, [DEPLOY_CHECK_COMMAND], "", {
        ...pod,
        spec: () => check,
      });
  }
  if (s.drillCronJob) {
    commands.startDrill = `JOB=${s.drillCronJob}-${stamp} && kubectl ${ns} create job --from=cronjob/${s.drillCronJob} "$JOB"`;
  }
  return commands;
}
