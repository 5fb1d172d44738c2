/**
 * The edms-backup stack, composition only: loads and validates the stack config once, takes what it
 * derives from components/stack/stack-values.ts, composes the bucket, the runner image, the runner
 * identity, the schedules and the monitoring, and exports what operators need.
 */
import { readFileSync } from "node:fs";
import * as k8s from "@pulumi/kubernetes";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { statusSchedule } from "./components/alarms/alarm-rules.js";
import { BackupAlarms } from "./components/alarms/backup-alarms.js";
import { BackupBucket } from "./components/storage/backup-bucket.js";
import { BackupDashboard } from "./components/monitoring/backup-dashboard.js";
import { BackupExporter } from "./components/monitoring/backup-exporter.js";
import { BreakGlassRole } from "./components/identity/break-glass.js";
import { BackupIdentity } from "./components/identity/backup-identity.js";
import { BackupSchedule } from "./components/schedule/backup-schedule.js";
import { DeployCheck, deployCheckFingerprint, deployCheckJobSpec } from "./components/schedule/deploy-check.js";
import { FirstDeployStamp, firstRunsEnv } from "./components/schedule/first-deploy.js";
import { commonLabels, workloadLabels } from "./components/schedule/naming.js";
import { operatorCommands } from "./components/schedule/operator-commands.js";
import { RunnerImage } from "./components/image/runner-image.js";
import { RunSummaryTopic } from "./components/alarms/run-summary-topic.js";
import { backupDestination as destinationOf } from "./components/schedule/runner-env.js";
import { runnerPod } from "./components/schedule/runner-pod.js";
import { gcAlarmWindowHours, gcEnabled, usesStore } from "./components/media-store/store-config.js";
import { StoreGc } from "./components/media-store/store-gc.js";
import { StoreKey } from "./components/media-store/store-key.js";
import { DEFAULT_EXPORTER_PORT, MANUAL_TIER } from "./runner/src/contract.js";
import { loadConfig } from "./components/config/load-config.js";
import {
  alarmsArgs,
  bucketArgs,
  dashboardArgs,
  drillArgs,
  exporterMonitoring,
  firstRunSchedules,
  packageVersion,
  runnerDatabase,
  runnerImageArgs,
  runnerPodBase,
  stackNames,
  statusSettings as deriveStatusSettings,
  tierSchedules,
} from "./components/stack/stack-values.js";

const config = loadConfig();
const { app, base, names, keyPrefix } = stackNames(config);
// Each tier's longest gap between runs and how `status` judges staleness: the alarms' thresholds,
// the dashboard, the status CronJob, the exporter and the operator's `status` all start from it.
const statusSettings = deriveStatusSettings(config);

const k8sProvider =
  config.kubeconfig || config.kubeContext
    ? new k8s.Provider(`${base}-k8s`, { kubeconfig: config.kubeconfig, context: config.kubeContext })
    : undefined;
// As Pulumi components take it: the children of each component that create Kubernetes objects
// inherit the provider by package; the AWS resources beside them keep the default one.
const k8sOpts: pulumi.ComponentResourceOptions = k8sProvider ? { providers: [k8sProvider] } : {};

const storage = new BackupBucket(base, bucketArgs(config, keyPrefix));
// Where every role of the stack reads or writes: the bucket, the key prefix and the bucket's KMS key.
const bucketAccess = { bucketArn: storage.bucketArn, keyPrefix, kmsKeyArn: storage.kmsKeyArn };
const image = new RunnerImage(
  `${base}-runner`,
  runnerImageArgs(config, packageVersion(readFileSync("package.json", "utf8"))),
);

// A mail on every run, when asked: backups and drills publish their summaries here.
const runSummary = config.runSummary
  ? new RunSummaryTopic(`${base}-run-summary`, { appName: app, emails: config.runSummary.emails })
  : undefined;

const identity = new BackupIdentity(
  `${base}-identity`,
  {
    identity: config.identity,
    namespace: config.namespace,
    serviceAccountName: names.serviceAccount,
    labels: commonLabels(app),
    ...bucketAccess,
    objectLock: config.objectLock !== undefined,
    cloudwatchNamespace: config.cloudwatchNamespace,
    runSummaryTopicArn: runSummary?.topic.arn,
  },
  k8sOpts,
);

const region = aws.getRegionOutput().region;

// Stamped at the first deployment only: tiers (and the drill) without a success yet are judged
// from their first scheduled run after it, by `status` and the alarms alike.
const firstDeploy = new FirstDeployStamp(
  `${base}-first-deploy`,
  { objectName: names.firstDeployStamp, namespace: config.namespace, labels: commonLabels(app) },
  k8sOpts,
);
const firstDeployEnv = firstDeploy.createdAt.apply((createdAt) => ({
  createdAt,
  firstRuns: firstRunsEnv(firstRunSchedules(config), config.timeZone, new Date(createdAt)),
}));

// The content store's key, for the backup pods (mediaFormat store, the default): from config, or generated once.
const storeKey = usesStore(config)
  ? new StoreKey(
      `${base}-store-key`,
      {
        objectName: names.storeKeySecret,
        namespace: config.namespace,
        labels: commonLabels(app),
        value: config.mediaStoreKey,
      },
      k8sOpts,
    )
  : undefined;

// What every runner pod shares; the image and the service account come from the resources above.
const podBase = runnerPodBase(config, names.configMap, storeKey);
const runnerPodInputs = {
  ...podBase,
  image: image.imageRef,
  serviceAccountName: identity.serviceAccount.metadata.name,
};

const schedule = new BackupSchedule(
  `${base}-schedule`,
  {
    appName: app,
    namespace: config.namespace,
    timeZone: config.timeZone,
    schedules: tierSchedules(config),
    retentionDays: config.retentionDays,
    objectLockMode: config.objectLock?.mode,
    drill: drillArgs(config),
    // With metrics on, a CronJob publishes the newest-backup ages the alarms below watch.
    status: config.cloudwatchNamespace
      ? { schedule: statusSchedule(config.alerts.statusEveryHours), settings: statusSettings }
      : undefined,
    pod: runnerPodInputs,
    runner: {
      appName: app,
      appVersion: config.appVersion,
      bucketName: storage.bucketName,
      keyPrefix,
      region,
      logLevel: config.logLevel,
      cloudwatchNamespace: config.cloudwatchNamespace,
      runSummaryTopicArn: runSummary?.topic.arn,
      mediaReferences: config.media?.references,
      mediaFormat: config.mediaFormat,
      storeTransfers: config.mediaStore.transfers,
      encryptionRecipients: config.encryption?.recipients,
      firstDeploy: firstDeployEnv,
      database: runnerDatabase(config),
    },
    database: { port: config.database.port, cidr: config.database.cidr, podSelector: config.database.podSelector },
    podIdentityAgent: config.identity.kind === "podIdentity",
    policy: config.job,
  },
  k8sOpts,
);

// On every `pulumi up` whose inputs changed: the identity Secret opens what the recipients encrypt
// and the restore role can restore; a failed check fails the deploy (components/schedule/deploy-check.ts).
const deployCheck = config.deployCheck
  ? new DeployCheck(
      `${base}-deploy-check`,
      {
        objectName: names.deployCheckJob,
        namespace: config.namespace,
        labels: workloadLabels(app, "deploy-check"),
        configMap: schedule.configMap,
        spec: pulumi.all([image.imageRef, identity.serviceAccount.metadata.name]).apply(([img, sa]) =>
          deployCheckJobSpec(
            runnerPod({ ...podBase, image: img, serviceAccountName: sa }, { kind: "deploy-check" }),
            workloadLabels(app, "deploy-check"),
            deployCheckFingerprint({
              image: img,
              recipients: config.encryption?.recipients,
              identitySecret: podBase.ageIdentity,
              restoreRole: podBase.restoreRole,
              databaseUser: config.database.user,
            }),
          ),
        ),
      },
      k8sOpts,
    )
  : undefined;

// Opt-in: `edms-backup exporter` for Prometheus, under its own read-only identity.
const exporter = config.exporter.enabled
  ? new BackupExporter(
      `${base}-exporter`,
      {
        appName: app,
        namespace: config.namespace,
        port: DEFAULT_EXPORTER_PORT,
        refreshSeconds: config.exporter.refreshSeconds,
        status: statusSettings,
        pod: { ...podBase, image: image.imageRef },
        identity: {
          identity: config.identity,
          namespace: config.namespace,
          labels: commonLabels(app),
          ...bucketAccess,
        },
        configMap: schedule.configMap,
        monitoring: exporterMonitoring(config),
      },
      k8sOpts,
    )
  : undefined;

// In CloudWatch, outside the cluster: they fire even when the CronJobs or the cluster are gone.
const alarmSettings = alarmsArgs(config, statusSettings);
const alarms =
  alarmSettings &&
  new BackupAlarms(
    `${base}-alarms`,
    alarmSettings,
    // Created after the first status run has published (see BackupSchedule.firstStatusRun).
    { dependsOn: schedule.firstStatusRun ? [schedule.firstStatusRun] : [] },
  );

// The same picture as the Grafana dashboard, from the runner's CloudWatch metrics (on by default with them).
const dashboardSettings = dashboardArgs(config, statusSettings, region);
const dashboard = dashboardSettings && new BackupDashboard(`${base}-dashboard`, dashboardSettings);

// The content store's gc: its own CronJob and role (the only one that may delete: content objects).
const gc = gcEnabled(config)
  ? new StoreGc(
      `${base}-gc`,
      {
        appName: app,
        namespace: config.namespace,
        timeZone: config.timeZone,
        schedule: config.mediaStore.gc.schedule,
        graceHours: config.mediaStore.gc.graceHours,
        policy: config.job,
        identity: config.identity,
        ...bucketAccess,
        cloudwatchNamespace: config.cloudwatchNamespace,
        pod: runnerPodInputs,
        configMap: schedule.configMap,
        alarms:
          alarms && config.cloudwatchNamespace
            ? {
                topicArn: alarms.topic.arn,
                namespace: config.cloudwatchNamespace,
                windowHours: gcAlarmWindowHours(config),
              }
            : undefined,
      },
      k8sOpts,
    )
  : undefined;

// Recovery from nothing (RUNBOOK "Total loss"): read and decrypt, assumable by the configured principals only.
const breakGlass = config.breakGlass
  ? new BreakGlassRole(`${base}-break-glass`, {
      principals: config.breakGlass.principals,
      requireMfa: config.breakGlass.requireMfa,
      ...bucketAccess,
    })
  : undefined;

export const namespace = config.namespace;
export const breakGlassRoleArn = breakGlass?.role.arn;
export const alertTopicArn = alarms?.topic.arn;
export const alarmNames = alarms && { ...alarms.alarmNames, ...(gc?.alarmName ? { gc: gc.alarmName } : {}) };
export const runSummaryTopicArn = runSummary?.topic.arn;
export const bucketName = storage.bucketName;
export const backupDestination = storage.bucketName.apply((bucket) => destinationOf(bucket, keyPrefix));
export const imageRef = image.imageRef;
export const runnerRoleArn = identity.role.arn;
export const cronJobNames = { ...schedule.cronJobNames, ...(gc ? { gc: gc.cronJobName } : {}) };
export const gcRoleArn = gc?.roleArn;
export const deployCheckJob = deployCheck && names.deployCheckJob;
export const exporterService = exporter?.serviceName;
export const dashboardName = dashboard?.dashboardName;
export const commands = pulumi.all([image.imageRef, identity.serviceAccount.metadata.name]).apply(([img, sa]) => {
  const pod = { ...podBase, image: img, serviceAccountName: sa };
  return operatorCommands({
    namespace: config.namespace,
    adhocCronJob: names.cronJob(MANUAL_TIER),
    drillCronJob: config.drill.enabled ? names.drillCronJob : undefined,
    instanceSelector: `app.kubernetes.io/instance=${base}`,
    oneOffPod: (args) => ({
      name: `${base}-${args[0] ?? "run"}`,
      image: img,
      labels: workloadLabels(app, "runner"),
      spec: runnerPod(pod, { kind: "command", args, status: statusSettings }),
    }),
    restorePod: {
      namePrefix: names.restoreJob,
      labels: workloadLabels(app, "restore"),
      activeDeadlineSeconds: config.job.activeDeadlineSeconds,
      spec: (args) => runnerPod(pod, { kind: "restore", args }),
    },
    deployCheckPod: config.deployCheck ? runnerPod(pod, { kind: "deploy-check" }) : undefined,
  });
});

// The same commands inside the cluster, for an operator with kubectl but without the Pulumi state
// at hand (docs/RUNBOOK.md, "Without pulumi"):
//   eval "$(kubectl -n edms get configmap edms-backup-commands -o jsonpath='{.data.startRestore}')"
new k8s.core.v1.ConfigMap(
  `${base}-commands`,
  {
    metadata: { name: names.commandsConfigMap, namespace: config.namespace, labels: commonLabels(app) },
    data: commands,
  },
  k8sProvider ? { provider: k8sProvider } : {},
);
