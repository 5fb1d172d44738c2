// The deploy check Job (issue 26, item 5), as the stack renders it: `check-deploy` with exactly the
// restore Job's role, password Secret and identity, nothing more (no media, no store key); awaited
// by `pulumi up` (no skipAwait), replaced after a failure (replaceUnready), and run again when what
// it proves changes (the pod template's fingerprint); `deployCheck: false` leaves it out.
import type { IPodSpec } from "kubernetes-models/v1/PodSpec";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { deployCheckFingerprint, FINGERPRINT_ANNOTATION } from "../../components/schedule/deploy-check.js";
import { readStackFile } from "../../components/config/stack-file.js";
import { DEPLOY_CHECK_COMMAND } from "../../runner/src/contract.js";
import { at, ofType, REPO_ROOT, runStack, type Recorded, type StackRun } from "./stack-harness.js";

let run: StackRun;
const file = readStackFile(REPO_ROOT, "prod");
const database = file.config[`${file.project}:database`] as {
  user: string;
  secretName: string;
  restoreRole: { user: string; secretName: string };
};
const encryption = file.config[`${file.project}:encryption`] as { identitySecret: { name: string } };

function checkJob(r: StackRun): Recorded | undefined {
  return ofType(r, "kubernetes:batch/v1:Job").find((j) =>
    String(at(j.inputs, "metadata", "name")).endsWith("deploy-check"),
  );
}
const podOf = (job: Recorded) => at(job.inputs, "spec", "template", "spec") as IPodSpec;
const fingerprint = (job: Recorded) =>
  at(job.inputs, "spec", "template", "metadata", "annotations", FINGERPRINT_ANNOTATION) as string;
const restoreJobPod = (r: StackRun) =>
  at(
    JSON.parse((r.outputs.commands as Record<string, string>).startRestore!.split("\n")[1]!),
    "spec",
    "template",
    "spec",
  ) as IPodSpec;

beforeAll(async () => {
  run = await runStack("prod");
});

describe("the deploy check Job", () => {
  it("runs check-deploy as the restore role with its Secret and the identity, and mounts nothing else", () => {
    const job = checkJob(run)!;
    expect(job).toBeDefined();
    expect(run.outputs.deployCheckJob).toBe(at(job.inputs, "metadata", "name"));
    const pod = podOf(job);
    const container = pod.containers[0]!;
    expect(container.args).toEqual([DEPLOY_CHECK_COMMAND]);
    const env = Object.fromEntries((container.env ?? []).map((e) => [e.name, e]));
    expect(env.PGUSER?.value).toBe(database.restoreRole.user);
    expect(env.PGPASSWORD?.valueFrom?.secretKeyRef?.name).toBe(database.restoreRole.secretName);
    expect(env.AGE_IDENTITY_FILE?.value).toBeDefined();
    const secrets = (pod.volumes ?? []).flatMap((v) => (v.secret ? [v.secret.secretName] : []));
    expect(secrets).toEqual([encryption.identitySecret.name]);
    expect((pod.volumes ?? []).filter((v) => v.persistentVolumeClaim)).toEqual([]);
    // The restore Job's own security context, environment source and identity mount: one factory.
    const restore = restoreJobPod(run);
    expect(pod.securityContext).toEqual(restore.securityContext);
    expect(container.securityContext).toEqual(restore.containers[0]!.securityContext);
    expect(container.envFrom).toEqual(restore.containers[0]!.envFrom);
    const identityMount = (p: IPodSpec) =>
      p.containers[0]!.volumeMounts?.find((m) => m.mountPath === env.AGE_IDENTITY_FILE?.value?.replace(/\/[^/]+$/, ""));
    expect(identityMount(pod)).toEqual(identityMount(restore));
  });

  it("is exported as commands.startDeployCheck with the same pod, to run again after rotating a Secret", () => {
    const command = (run.outputs.commands as Record<string, string>).startDeployCheck!;
    expect(command).toMatch(
      /^JOB=edms-restore-check-\$\(date -u \+%Y%m%d-%H%M%S\) && kubectl --namespace edms create -f - <<EOF\n/,
    );
    const exported = at(JSON.parse(command.split("\n")[1]!), "spec", "template", "spec");
    expect(exported).toEqual(podOf(checkJob(run)!));
  });

  it("is awaited by pulumi up (no skipAwait), retried once within a deadline, and replaced after a failure", () => {
    const job = checkJob(run)!;
    const annotations = at(job.inputs, "metadata", "annotations") as Record<string, string>;
    expect(annotations["pulumi.com/replaceUnready"]).toBe("true");
    expect(annotations["pulumi.com/skipAwait"]).toBeUndefined();
    expect(at(job.inputs, "spec", "backoffLimit")).toBe(1);
    expect(Number(at(job.inputs, "spec", "activeDeadlineSeconds"))).toBeLessThan(600);
    // Never ignoreChanges: a changed template must replace it (and so run the check again).
    expect(job.name).toBe("edms-backup-deploy-check-job");
  });

  it("runs again when the recipients, the identity Secret, the restore role or the image change, and not otherwise", () => {
    const pod = podOf(checkJob(run)!);
    const base = {
      image: String(pod.containers[0]!.image),
      recipients: ["age1lggyhqrw2nlhcxprm67z43rta597azn8gknawjehu9d9dl0jq3yqqvfafg"],
      identitySecret: { secretName: "edms-backup-age", key: "identity" },
      restoreRole: { user: "edms", passwordSecret: { name: "edms-db-owner", key: "password" } },
      databaseUser: "edms_backup",
    };
    const print = deployCheckFingerprint(base);
    expect(print).toMatch(/^[0-9a-f]{16}$/);
    expect(deployCheckFingerprint({ ...base })).toBe(print);
    for (const changed of [
      { ...base, image: `${base.image}x` },
      { ...base, recipients: [...base.recipients, "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"] },
      { ...base, recipients: undefined },
      { ...base, identitySecret: { ...base.identitySecret, key: "other" } },
      { ...base, restoreRole: undefined },
      { ...base, restoreRole: { ...base.restoreRole, user: "edms_owner" } },
    ])
      expect(deployCheckFingerprint(changed), JSON.stringify(changed)).not.toBe(print);
    // The rendered Job carries the stack's own fingerprint.
    expect(fingerprint(checkJob(run)!)).toMatch(/^[0-9a-f]{16}$/);
  });

  it("deployCheck: false leaves it out (the program run again with it)", async () => {
    // index.ts runs once per module instance: a fresh import is a second `pulumi up`.
    vi.resetModules();
    const off = await runStack("prod", { deployCheck: false });
    expect(checkJob(off)).toBeUndefined();
    expect(off.outputs.deployCheckJob).toBeUndefined();
    expect(ofType(off, "kubernetes:batch/v1:CronJob").length).toBeGreaterThan(0);
  });
});
