/**
 * The Kubernetes side: the runner's ConfigMap, one CronJob per enabled tier, the suspended ad-hoc
 * CronJob (a Job template for `kubectl create job --from=cronjob/...`), the weekly restore drill,
 * the status CronJob that feeds the alarms, and the NetworkPolicy that confines all of them. Specs come from the pure builders.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { ICronJobSpec } from "kubernetes-models/batch/v1/CronJobSpec";
import { isScheduledTier, TIERS, type ScheduledTier, type Tier } from "../../runner/src/contract.js";
import { cronJobSpec, SUSPENDED_SCHEDULE, type JobPolicy } from "./cron-job-spec.js";
import { commonLabels, objectNames, runnerSelector, workloadLabels } from "./naming.js";
import { networkPolicySpec } from "./network-policy-spec.js";
import { runnerPod, type RunnerPodBase, type RunnerWorkload, type StatusSettings } from "./runner-pod.js";
import { configMapData, type DrillTier, type RunnerSettingsInput } from "./runner-env.js";

/**
 * kubernetes-models and @pulumi/kubernetes describe the same OpenAPI schema with slightly different
 * TypeScript types (a Quantity is `string | number` in one, `string` in the other); the specs are
 * built and checked against the former, then handed over as the latter here, in one place.
 */
export function asCronJobSpec(spec: ICronJobSpec): k8s.types.input.batch.v1.CronJobSpec {
  return spec as unknown as k8s.types.input.batch.v1.CronJobSpec;
}

/** The pods' shared fields (see runnerPod); the image and the service account may be outputs. */
export type RunnerPodInputs = Omit<RunnerPodBase, "image" | "serviceAccountName"> & {
  image: pulumi.Input<string>;
  serviceAccountName: pulumi.Input<string>;
};

/** The Kubernetes provider, if not the default, comes through the resource options (`providers`). */
export interface BackupScheduleArgs {
  appName: string;
  namespace: string;
  timeZone: string;
  /** Schedules of the tiers that run; a tier missing here gets no CronJob. */
  schedules: Partial<Record<ScheduledTier, string>>;
  retentionDays: Record<Tier, number>;
  objectLockMode?: "GOVERNANCE" | "COMPLIANCE";
  drill?: { schedule: string; tier: DrillTier; scratchSizeLimit: string };
  /** The CronJob running `status --publish-metrics` for the alarms; unset = none. */
  status?: { schedule: string; settings: StatusSettings };
  /** What every runner pod shares. */
  pod: RunnerPodInputs;
  runner: Omit<RunnerSettingsInput, "bucketName" | "region" | "mediaDir" | "firstDeploy" | "runSummaryTopicArn"> & {
    bucketName: pulumi.Input<string>;
    region: pulumi.Input<string>;
    runSummaryTopicArn?: pulumi.Input<string>;
    firstDeploy?: pulumi.Input<NonNullable<RunnerSettingsInput["firstDeploy"]>>;
  };
  database: { port: number; cidr?: string; podSelector?: Record<string, string> };
  podIdentityAgent: boolean;
  policy: JobPolicy;
}

export class BackupSchedule extends pulumi.ComponentResource {
  readonly cronJobNames: Record<string, string>;
  readonly configMap: k8s.core.v1.ConfigMap;
  /** The status run at the first deployment; the alarms wait for it (see below). */
  readonly firstStatusRun?: k8s.batch.v1.Job;

  constructor(name: string, args: BackupScheduleArgs, opts?: pulumi.ComponentResourceOptions) {
    super("edms-backup:schedule:BackupSchedule", name, {}, opts);
    const childOpts = { parent: this };
    const names = objectNames(args.appName);
    const namespace = args.namespace;

    this.configMap = runnerConfigMap(name, args, childOpts);

    const pod = (workload: RunnerWorkload) =>
      pulumi
        .all([args.pod.image, args.pod.serviceAccountName])
        .apply(([image, serviceAccountName]) => runnerPod({ ...args.pod, image, serviceAccountName }, workload));

    // The ConfigMap must exist before a CronJob's first run reads it.
    const cronJob = runnerCronJobs(args, { ...childOpts, dependsOn: [this.configMap] });

    const objectLockFor = (tier: Tier) =>
      args.objectLockMode ? { mode: args.objectLockMode, retentionDays: args.retentionDays[tier] } : undefined;

    this.cronJobNames = {};
    // Every tier gets a CronJob: a scheduled one on its schedule (none when disabled), the others
    // suspended, started by hand (`kubectl create job --from=cronjob/...`).
    for (const tier of TIERS) {
      const scheduled = isScheduledTier(tier);
      const schedule = scheduled ? args.schedules[tier] : SUSPENDED_SCHEDULE;
      if (!schedule) continue;
      const objectName = names.cronJob(tier);
      cronJob(
        `${name}-${tier}`,
        objectName,
        workloadLabels(args.appName, tier),
        schedule,
        !scheduled,
        pod({ kind: "backup", tier, objectLock: objectLockFor(tier) }),
      );
      this.cronJobNames[tier] = objectName;
    }

    if (args.drill) {
      cronJob(
        `${name}-restore-drill`,
        names.drillCronJob,
        workloadLabels(args.appName, "restore-drill"),
        args.drill.schedule,
        false,
        pod({
          kind: "drill",
          tier: args.drill.tier,
          enabledTiers: Object.keys(args.schedules) as ScheduledTier[],
          scratchSizeLimit: args.drill.scratchSizeLimit,
        }),
      );
      this.cronJobNames["restore-drill"] = names.drillCronJob;
    }

    if (args.status) {
      const statusPod = pod({ kind: "status", status: args.status.settings });
      cronJob(
        `${name}-status`,
        names.statusCronJob,
        workloadLabels(args.appName, "status"),
        args.status.schedule,
        false,
        statusPod,
      );
      this.cronJobNames.status = names.statusCronJob;

      // One status run right at the first deployment, which the alarms depend on: a new alarm
      // whose metric has no data yet treats it as breaching, and the CronJob's first run can be
      // hours away. Published first, the never-ran ages (below threshold until each tier's first
      // run + grace) keep the alarms quiet. Created once (ignoreChanges), re-created only if it
      // failed (replaceUnready), so a later `pulumi up` never waits on it or fails because of it.
      this.firstStatusRun = firstStatusJob(name, args, statusPod, { ...childOpts, dependsOn: [this.configMap] });
    }

    new k8s.networking.v1.NetworkPolicy(
      `${name}-egress`,
      {
        metadata: { name: names.networkPolicy, namespace, labels: commonLabels(args.appName) },
        spec: networkPolicySpec({
          podSelector: runnerSelector(args.appName),
          database: args.database,
          podIdentityAgent: args.podIdentityAgent,
        }),
      },
      childOpts,
    );

    this.registerOutputs({ cronJobNames: this.cronJobNames, configMapName: names.configMap });
  }
}

/** The runner's settings, which every CronJob's pod reads (envFrom). */
function runnerConfigMap(
  name: string,
  args: BackupScheduleArgs,
  childOpts: { parent: pulumi.Resource },
): k8s.core.v1.ConfigMap {
  const names = objectNames(args.appName);
  const namespace = args.namespace;
  return new k8s.core.v1.ConfigMap(
    `${name}-config`,
    {
      metadata: { name: names.configMap, namespace, labels: commonLabels(args.appName) },
      data: pulumi
        .all([args.runner.bucketName, args.runner.region, args.runner.firstDeploy, args.runner.runSummaryTopicArn])
        .apply(([bucketName, region, firstDeploy, runSummaryTopicArn]) =>
          configMapData({
            ...args.runner,
            bucketName,
            region,
            firstDeploy,
            runSummaryTopicArn,
            mediaDir: args.pod.media?.mountPath,
          }),
        ),
    },
    childOpts,
  );
}

/** The one status run at the first deployment (see the constructor). */
function firstStatusJob(
  name: string,
  args: BackupScheduleArgs,
  statusPod: pulumi.Output<ReturnType<typeof runnerPod>>,
  opts: pulumi.CustomResourceOptions,
): k8s.batch.v1.Job {
  const names = objectNames(args.appName);
  const namespace = args.namespace;
  const labels = workloadLabels(args.appName, "status");
  return new k8s.batch.v1.Job(
    `${name}-status-first`,
    {
      metadata: {
        name: names.firstStatusJob,
        namespace,
        labels,
        annotations: { "pulumi.com/replaceUnready": "true" },
      },
      spec: statusPod.apply((p) => ({
        // A freshly created IAM role can take a little while to be usable.
        backoffLimit: 3,
        activeDeadlineSeconds: 600,
        template: { metadata: { labels }, spec: p },
      })) as pulumi.Output<k8s.types.input.batch.v1.JobSpec>,
    },
    { ...opts, ignoreChanges: ["spec"] },
  );
}

/** Makes CronJobs running the runner's pod on `schedule` (suspended: started by hand). */
function runnerCronJobs(args: BackupScheduleArgs, opts: pulumi.CustomResourceOptions) {
  return (
    resourceName: string,
    objectName: string,
    labels: Record<string, string>,
    schedule: string,
    suspend: boolean,
    spec: pulumi.Output<ReturnType<typeof runnerPod>>,
  ): k8s.batch.v1.CronJob =>
    new k8s.batch.v1.CronJob(
      resourceName,
      {
        metadata: { name: objectName, namespace: args.namespace, labels },
        spec: spec.apply((p) =>
          asCronJobSpec(
            cronJobSpec({ schedule, timeZone: args.timeZone, suspend, labels, pod: p, policy: args.policy }),
          ),
        ),
      },
      // A copy each: one CronJob's options never see another's.
      { ...opts },
    );
}
