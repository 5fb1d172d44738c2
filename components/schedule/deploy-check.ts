/**
 * The deploy check: a Job running `edms-backup check-deploy` with exactly the restore Job's role
 * and identity (runnerPod's "deploy-check" workload). It proves on day 0 that the identity Secret
 * decrypts what ENCRYPTION_RECIPIENTS encrypt and that the restore role can restore the live
 * database (runner/src/commands/check-deploy.ts), instead of the first drill finding out a week
 * later.
 *
 * `pulumi up` waits for it: @pulumi/kubernetes (4.x, see node_modules/@pulumi/kubernetes/batch/
 * v1/job.d.ts) registers a Job only when its Complete condition is True and fails the resource as
 * soon as its Failed condition is, so a failed check fails the deploy, with the Job's name in the
 * error (its pod's log says which check failed and what to do). There is no skipAwait here on
 * purpose. Its timeout is 10 minutes; the Job's own deadline is shorter.
 *
 * When it runs again: the pod template carries a fingerprint of what it proves (the recipients,
 * the identity Secret, the restore role and its Secret, the image); a change makes a new template,
 * which Kubernetes does not allow on an existing Job, so Pulumi replaces it and the check runs
 * again. A failed check is replaced by the next `pulumi up` (`pulumi.com/replaceUnready`), so
 * fixing the Secret and running `pulumi up` again is the whole retry.
 */
import { createHash } from "node:crypto";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { IJobSpec } from "kubernetes-models/batch/v1/JobSpec";
import type { IPodSpec } from "kubernetes-models/v1/PodSpec";

/** Seconds a check may take (a database connection, an age round trip): a hung one fails the deploy. */
export const DEPLOY_CHECK_DEADLINE_SECONDS = 300;

export const FINGERPRINT_ANNOTATION = "backup.edms.io/deploy-check-inputs";

/** What the check proves, as a short digest: a change to any of it runs the check again. */
export function deployCheckFingerprint(inputs: {
  image: string;
  recipients?: readonly string[];
  identitySecret?: { secretName: string; key: string };
  restoreRole?: { user: string; passwordSecret: { name: string; key: string } };
  databaseUser: string;
}): string {
  const canonical = JSON.stringify([
    inputs.image,
    inputs.recipients ?? [],
    inputs.identitySecret ?? null,
    inputs.restoreRole ?? null,
    inputs.databaseUser,
  ]);
  return createHash("sha256").update(canonical).digest("hex").slice(0, 16);
}

/** The Job's spec: one retry (a database restarting during the deploy), then a failed deploy. */
export function deployCheckJobSpec(pod: IPodSpec, labels: Record<string, string>, fingerprint: string): IJobSpec {
  if (pod.restartPolicy !== "Never") throw new Error("the deploy check's pod must use restartPolicy Never");
  return {
    backoffLimit: 1,
    activeDeadlineSeconds: DEPLOY_CHECK_DEADLINE_SECONDS,
    template: { metadata: { labels, annotations: { [FINGERPRINT_ANNOTATION]: fingerprint } }, spec: pod },
  };
}

export interface DeployCheckArgs {
  objectName: string;
  namespace: string;
  labels: Record<string, string>;
  spec: pulumi.Input<IJobSpec>;
  /** The runner's ConfigMap (envFrom), which must exist before the pod starts. */
  configMap: pulumi.Resource;
}

export class DeployCheck extends pulumi.ComponentResource {
  readonly job: k8s.batch.v1.Job;

  constructor(name: string, args: DeployCheckArgs, opts?: pulumi.ComponentResourceOptions) {
    super("edms-backup:schedule:DeployCheck", name, {}, opts);
    this.job = new k8s.batch.v1.Job(
      `${name}-job`,
      {
        metadata: {
          name: args.objectName,
          namespace: args.namespace,
          labels: args.labels,
          annotations: { "pulumi.com/replaceUnready": "true" },
        },
        // kubernetes-models and @pulumi/kubernetes type the same schema differently (see asCronJobSpec).
        spec: args.spec as unknown as pulumi.Input<k8s.types.input.batch.v1.JobSpec>,
      },
      { parent: this, dependsOn: [args.configMap] },
    );
    this.registerOutputs({ jobName: args.objectName });
  }
}
