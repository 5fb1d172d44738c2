/**
 * The content store's gc (MEDIA_FORMAT=store, issue 22): a CronJob running `edms-backup gc --yes`
 * under its own service account and cloud role (the only identity of the stack that may delete,
 * and only content objects: store-gc-policy.ts), and, with alarms on, the gc alarms
 * (store-gc-alarms.ts) on the backups' SNS topic. A Kubernetes provider other than the default
 * comes through the resource options (`providers`).
 */
import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { asCronJobSpec, type RunnerPodInputs } from "../schedule/backup-schedule.js";
import { BackupIdentity, type IdentityKind } from "../identity/backup-identity.js";
import { cronJobSpec, type JobPolicy } from "../schedule/cron-job-spec.js";
import { commonLabels, objectNames, workloadLabels } from "../schedule/naming.js";
import { runnerPod } from "../schedule/runner-pod.js";
import { gcAlarmRules } from "./store-gc-alarms.js";
import { gcPolicy } from "./store-gc-policy.js";

export interface StoreGcArgs {
  appName: string;
  namespace: string;
  timeZone: string;
  schedule: string;
  /** MEDIA_STORE_GC_GRACE_HOURS; unset = the runner's default. */
  graceHours?: number;
  policy: JobPolicy;
  identity: IdentityKind;
  bucketArn: pulumi.Input<string>;
  keyPrefix: string;
  kmsKeyArn: pulumi.Input<string>;
  cloudwatchNamespace?: string;
  /** The runner pods' shared fields; the service account is replaced by gc's own. */
  pod: RunnerPodInputs;
  /** The runner ConfigMap, which must exist before the first run reads it. */
  configMap: pulumi.Resource;
  /** The alarms, on this topic; unset = none. */
  alarms?: { topicArn: pulumi.Input<string>; namespace: string; windowHours: number };
}

export class StoreGc extends pulumi.ComponentResource {
  readonly cronJobName: string;
  readonly roleArn: pulumi.Output<string>;
  readonly alarmName?: string;

  constructor(name: string, args: StoreGcArgs, opts?: pulumi.ComponentResourceOptions) {
    super("edms-backup:store:StoreGc", name, {}, opts);
    const parent = { parent: this };
    const names = objectNames(args.appName);

    const identity = new BackupIdentity(
      `${name}-identity`,
      {
        identity: args.identity,
        namespace: args.namespace,
        serviceAccountName: names.gcServiceAccount,
        labels: commonLabels(args.appName),
        bucketArn: args.bucketArn,
        keyPrefix: args.keyPrefix,
        kmsKeyArn: args.kmsKeyArn,
        objectLock: false,
        purpose: "media store gc",
        policy: (r) => gcPolicy({ ...r, keyPrefix: args.keyPrefix, cloudwatchNamespace: args.cloudwatchNamespace }),
      },
      parent,
    );
    this.roleArn = identity.role.arn;

    const labels = workloadLabels(args.appName, "gc");
    this.cronJobName = names.gcCronJob;
    new k8s.batch.v1.CronJob(
      `${name}-cron`,
      {
        metadata: { name: names.gcCronJob, namespace: args.namespace, labels },
        spec: pulumi.all([args.pod.image, identity.serviceAccount.metadata.name]).apply(([image, serviceAccountName]) =>
          asCronJobSpec(
            cronJobSpec({
              schedule: args.schedule,
              timeZone: args.timeZone,
              suspend: false,
              labels,
              pod: runnerPod(
                { ...args.pod, image, serviceAccountName },
                { kind: "gc", serviceAccountName, graceHours: args.graceHours },
              ),
              policy: args.policy,
            }),
          ),
        ),
      },
      { ...parent, dependsOn: [args.configMap] },
    );

    if (args.alarms) {
      const rules = gcAlarmRules({
        appName: args.appName,
        namespace: args.alarms.namespace,
        windowHours: args.alarms.windowHours,
      });
      // The two conditions without actions, and one composite that notifies (as for the drill).
      const failed = new aws.cloudwatch.MetricAlarm(`${name}-failed`, rules.failed, parent);
      const overdue = new aws.cloudwatch.MetricAlarm(`${name}-overdue`, rules.overdue, parent);
      new aws.cloudwatch.CompositeAlarm(
        `${name}-alarm`,
        { ...rules.composite, alarmActions: [args.alarms.topicArn], okActions: [args.alarms.topicArn] },
        { ...parent, dependsOn: [failed, overdue] },
      );
      this.alarmName = rules.composite.alarmName;
    }

    this.registerOutputs({ cronJobName: this.cronJobName, roleArn: this.roleArn });
  }
}
