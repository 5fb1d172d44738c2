/**
 * The exact commands an operator runs, exported by the stack so they always match the deployed
 * names. Jobs started by hand use `$JOB`, set by the command that creates them, so the follow-up
 * commands can be pasted as they are in the same shell.
 */
import type { IPodSpec } from "kubernetes-models/v1/PodSpec";

export interface OperatorCommandSettings {
  namespace: string;
  adhocCronJob: string;
  drillCronJob?: string;
  /** Selects every object of the stack (for `kubectl get`). */
  instanceSelector: string;
  /** A runner pod for one-off commands (`list`, `status`), with the same identity and policy. */
  oneOffPod: (args: string[]) => { labels: Record<string, string>; spec: IPodSpec; name: string; image: string };
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
  if (s.drillCronJob) {
    commands.startDrill = `JOB=${s.drillCronJob}-${stamp} && kubectl ${ns} create job --from=cronjob/${s.drillCronJob} "$JOB"`;
  }
  return commands;
}
