/**
 * The edms-backup stack: validates the stack config once, then composes the bucket, the runner
 * image, the runner identity and the schedules, and exports what operators need.
 */
import { readFileSync } from "node:fs";
import * as k8s from "@pulumi/kubernetes";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { DRILL_MAX_AGE_HOURS, statusSchedule } from "./components/alarms/alarm-rules.js";
import { BackupAlarms } from "./components/alarms/backup-alarms.js";
import { BackupBucket } from "./components/storage/backup-bucket.js";
import { BackupDashboard } from "./components/monitoring/backup-dashboard.js";
import { BackupExporter } from "./components/monitoring/backup-exporter.js";
import { BreakGlassRole } from "./components/identity/break-glass.js";
import { BackupIdentity } from "./components/identity/backup-identity.js";
import { BackupSchedule } from "./components/schedule/backup-schedule.js";
import { DeployCheck, deployCheckFingerprint, deployCheckJobSpec } from "./components/schedule/deploy-check.js";
import { examplePlaceholders, examplesAllowed } from "./components/config/example-values.js";
import { FirstDeployStamp, firstRunsEnv } from "./components/schedule/first-deploy.js";
import { commonLabels, objectNames, workloadLabels } from "./components/schedule/naming.js";
import { operatorCommands } from "./components/schedule/operator-commands.js";
import { RunnerImage } from "./components/image/runner-image.js";
import { RunSummaryTopic } from "./components/alarms/run-summary-topic.js";
import { backupDestination as destinationOf } from "./components/schedule/runner-env.js";
import { runnerPod, type StatusSettings } from "./components/schedule/runner-pod.js";
import { longestIntervalDays } from "./components/config/schedules.js";
import { gcAlarmWindowHours, gcEnabled, usesStore } from "./components/media-store/store-config.js";
import { StoreGc } from "./components/media-store/store-gc.js";
import { StoreKey } from "./components/media-store/store-key.js";
import { DEFAULT_EXPORTER_PORT, MANUAL_TIER, type ScheduledTier } from "./runner/src/contract.js";
import { enabledTiers, parseStackConfig, projectConfig, StackConfigError } from "./components/config/stack-config.js";

function loadConfig() {
  try {
    const raw = projectConfig(pulumi.runtime.allConfig(), pulumi.getProject());
    const config = parseStackConfig(raw);
    // The repository's example values deploy backups nobody can decrypt: refused (example-values.ts).
    const examples = examplesAllowed() ? [] : examplePlaceholders(raw, pulumi.getProject());
    if (examples.length) throw new StackConfigError(examples);
    return config;
  } catch (error) {
    // A RunError prints its message without a stack trace: the message is the whole story.
    if (error instanceof StackConfigError) throw new pulumi.RunError(error.message);
    throw error;
  }
}

const config = loadConfig();
const app = config.appName;
const base = `${app}-backup`;
const names = objectNames(app);
const keyPrefix = config.bucket.keyPrefix ?? app;

const k8sProvider =
  config.kubeconfig || config.kubeContext
    ? new k8s.Provider(`${base}-k8s`, { kubeconfig: config.kubeconfig, context: config.kubeContext })
    : undefined;
// As Pulumi components take it: the children of each component that create Kubernetes objects
// inherit the provider by package; the AWS resources beside them keep the default one.
const k8sOpts: pulumi.ComponentResourceOptions = k8sProvider ? { providers: [k8sProvider] } : {};

const storage = new BackupBucket(base, {
  namePrefix: config.bucket.namePrefix ?? `${app}-backups`,
  keyPrefix,
  retentionDays: config.retentionDays,
  noncurrentVersionDays: config.noncurrentVersionDays,
  monthlyTransition: config.monthlyTransition,
  objectLock: config.objectLock,
  kmsKeyArn: config.kmsKeyArn,
  forceDestroy: config.bucket.forceDestroy,
});

const packageVersion = (JSON.parse(readFileSync("package.json", "utf8")) as { version?: string }).version ?? "0.0.0";
const image = new RunnerImage(
  `${base}-runner`,
  config.image
    ? { kind: "reference", image: config.image }
    : {
        kind: "build",
        repoRoot: ".",
        version: packageVersion,
        pgMajor: config.pgMajor,
        aptSource: config.imageAptSource,
        keepImages: config.keepImages,
      },
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
    bucketArn: storage.bucketArn,
    keyPrefix,
    kmsKeyArn: storage.kmsKeyArn,
    objectLock: config.objectLock !== undefined,
    cloudwatchNamespace: config.cloudwatchNamespace,
    runSummaryTopicArn: runSummary?.topic.arn,
  },
  k8sOpts,
);

const region = aws.getRegionOutput().region;
const media = config.media
  ? {
      pvcName: config.media.pvcName,
      mountPath: config.media.mountPath,
      subPath: config.media.subPath,
      colocateWith: config.media.accessMode === "ReadWriteOnce" ? config.media.appPodSelector : undefined,
    }
  : undefined;
// Each tier's longest gap between runs: the alarms' thresholds and `status` both start from it.
const intervalHours: Partial<Record<ScheduledTier, number>> = Object.fromEntries(
  enabledTiers(config).map((tier) => [tier, longestIntervalDays(config.schedules[tier], config.timeZone) * 24]),
);
// How `status` judges staleness, for the status CronJob and the operator's `status` command alike.
const statusSettings: StatusSettings = {
  tiers: enabledTiers(config),
  graceHours: config.alerts.graceHours,
  intervalHours,
  drillMaxAgeHours: config.drill.enabled ? DRILL_MAX_AGE_HOURS : undefined,
};

// Stamped at the first deployment only: tiers (and the drill) without a success yet are judged
// from their first scheduled run after it, by `status` and the alarms alike.
const firstDeploy = new FirstDeployStamp(
  `${base}-first-deploy`,
  { objectName: names.firstDeployStamp, namespace: config.namespace, labels: commonLabels(app) },
  k8sOpts,
);
const firstDeployEnv = firstDeploy.createdAt.apply((createdAt) => ({
  createdAt,
  firstRuns: firstRunsEnv(
    {
      ...Object.fromEntries(enabledTiers(config).map((tier) => [tier, config.schedules[tier]])),
      ...(config.drill.enabled ? { drill: config.drill.schedule } : {}),
    },
    config.timeZone,
    new Date(createdAt),
  ),
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

// What every runner pod shares (see components/schedule/runner-pod.ts); the image and the service
// account are known once those resources exist.
const podBase = {
  configMapName: names.configMap,
  databaseCa: config.database.caBundle,
  passwordSecret: { name: config.database.secretName, key: config.database.passwordKey },
  restoreRole: config.database.restoreRole && {
    user: config.database.restoreRole.user,
    passwordSecret: { name: config.database.restoreRole.secretName, key: config.database.restoreRole.passwordKey },
  },
  media,
  // The private key of encrypted backups, for the pods that read them (drill, restore Job) only.
  ageIdentity: config.encryption?.identitySecret
    ? { secretName: config.encryption.identitySecret.name, key: config.encryption.identitySecret.key }
    : undefined,
  notificationsSecret: config.notifications?.secretName,
  storeKey: storeKey ? { secretName: storeKey.secretName, key: storeKey.key } : undefined,
  resources: config.resources,
  tmpSizeLimit: config.tmpSizeLimit,
  runAsUser: config.runAsUser,
  runAsGroup: config.runAsGroup,
  supplementalGroups: config.supplementalGroups,
};

const schedule = new BackupSchedule(
  `${base}-schedule`,
  {
    appName: app,
    namespace: config.namespace,
    timeZone: config.timeZone,
    schedules: Object.fromEntries(enabledTiers(config).map((tier) => [tier, config.schedules[tier]])),
    retentionDays: config.retentionDays,
    objectLockMode: config.objectLock?.mode,
    drill: config.drill.enabled
      ? { schedule: config.drill.schedule, tier: config.drill.tier, scratchSizeLimit: config.drill.scratchSizeLimit }
      : undefined,
    // With metrics on, a CronJob publishes the newest-backup ages the alarms below watch.
    status: config.cloudwatchNamespace
      ? { schedule: statusSchedule(config.alerts.statusEveryHours), settings: statusSettings }
      : undefined,
    pod: { ...podBase, image: image.imageRef, serviceAccountName: identity.serviceAccount.metadata.name },
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
      database: {
        host: config.database.host,
        port: config.database.port,
        name: config.database.name,
        user: config.database.user,
        sslMode: config.database.sslMode,
        caBundle: config.database.caBundle !== undefined,
      },
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
          bucketArn: storage.bucketArn,
          keyPrefix,
          kmsKeyArn: storage.kmsKeyArn,
        },
        configMap: schedule.configMap,
        monitoring: config.exporter.serviceMonitor
          ? { scrapeInterval: config.exporter.scrapeInterval, labels: config.exporter.prometheusLabels }
          : undefined,
      },
      k8sOpts,
    )
  : undefined;

// In CloudWatch, outside the cluster: they fire even when the CronJobs or the cluster are gone.
const alarms = config.cloudwatchNamespace
  ? new BackupAlarms(
      `${base}-alarms`,
      {
        appName: app,
        namespace: config.cloudwatchNamespace,
        intervals: Object.fromEntries(Object.entries(intervalHours).map(([tier, hours]) => [tier, hours * 3600])),
        graceHours: config.alerts.graceHours,
        statusEveryHours: config.alerts.statusEveryHours,
        emails: config.alertEmails,
        topicKmsKeyArn: config.alerts.topicKmsKeyArn,
        drill: config.drill.enabled ? { maxAgeHours: DRILL_MAX_AGE_HOURS } : undefined,
        referenceCheck: Boolean(config.media?.references?.length),
      },
      // Created after the first status run has published (see BackupSchedule.firstStatusRun).
      { dependsOn: schedule.firstStatusRun ? [schedule.firstStatusRun] : [] },
    )
  : undefined;

// The same picture as the Grafana dashboard, from the runner's CloudWatch metrics (on by default with them).
const dashboard =
  config.cloudwatchNamespace && (config.cloudwatchDashboard ?? true)
    ? new BackupDashboard(`${base}-dashboard`, {
        appName: app,
        namespace: config.cloudwatchNamespace,
        region,
        maxAgeSeconds: Object.fromEntries(
          Object.entries(intervalHours).map(([tier, hours]) => [
            tier,
            Math.ceil(hours * 3600) + config.alerts.graceHours * 3600,
          ]),
        ),
        drill: config.drill.enabled ? { maxAgeSeconds: DRILL_MAX_AGE_HOURS * 3600 } : undefined,
      })
    : undefined;

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
        bucketArn: storage.bucketArn,
        keyPrefix,
        kmsKeyArn: storage.kmsKeyArn,
        cloudwatchNamespace: config.cloudwatchNamespace,
        pod: { ...podBase, image: image.imageRef, serviceAccountName: identity.serviceAccount.metadata.name },
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
      bucketArn: storage.bucketArn,
      keyPrefix,
      kmsKeyArn: storage.kmsKeyArn,
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
