/**
 * What index.ts derives from the validated stack config before it composes the components: pure
 * functions of the config (and of values passed in), no resources, so index.ts only composes.
 */
import { DRILL_MAX_AGE_HOURS } from "../alarms/alarm-rules.js";
import type { BackupAlarmsArgs } from "../alarms/backup-alarms.js";
import type { BackupBucketArgs } from "../storage/backup-bucket.js";
import type { BackupDashboardArgs } from "../monitoring/backup-dashboard.js";
import type { BackupExporterArgs } from "../monitoring/backup-exporter.js";
import type { BackupScheduleArgs } from "../schedule/backup-schedule.js";
import type { RunnerImageArgs } from "../image/runner-image.js";
import type { RunnerPodBase, StatusSettings } from "../schedule/runner-pod.js";
import { longestIntervalDays } from "../config/schedules.js";
import { objectNames } from "../schedule/naming.js";
import { enabledTiers, type StackConfig } from "../config/stack-config.js";
import type * as pulumi from "@pulumi/pulumi";

/** The names everything starts from: the resource base, the Kubernetes object names, the key prefix. */
export function stackNames(config: StackConfig) {
  const app = config.appName;
  return { app, base: `${app}-backup`, names: objectNames(app), keyPrefix: config.bucket.keyPrefix ?? app };
}

export function bucketArgs(config: StackConfig, keyPrefix: string): BackupBucketArgs {
  return {
    namePrefix: config.bucket.namePrefix ?? `${config.appName}-backups`,
    keyPrefix,
    retentionDays: config.retentionDays,
    noncurrentVersionDays: config.noncurrentVersionDays,
    monthlyTransition: config.monthlyTransition,
    objectLock: config.objectLock,
    kmsKeyArn: config.kmsKeyArn,
    forceDestroy: config.bucket.forceDestroy,
  };
}

/** The package's version (package.json's text), which a built image is tagged with. */
export function packageVersion(packageJson: string): string {
  return (JSON.parse(packageJson) as { version?: string }).version ?? "0.0.0";
}

/** The configured image, or one built from this checkout. */
export function runnerImageArgs(config: StackConfig, version: string): RunnerImageArgs {
  return config.image
    ? { kind: "reference", image: config.image }
    : {
        kind: "build",
        repoRoot: ".",
        version,
        pgMajor: config.pgMajor,
        aptSource: config.imageAptSource,
        keepImages: config.keepImages,
      };
}

/** Each enabled tier's schedule. */
export function tierSchedules(config: StackConfig): BackupScheduleArgs["schedules"] {
  return Object.fromEntries(enabledTiers(config).map((tier) => [tier, config.schedules[tier]]));
}

/** What the first-deploy grace is judged from: each tier's schedule, and the drill's when enabled. */
export function firstRunSchedules(config: StackConfig): Record<string, string> {
  return { ...tierSchedules(config), ...(config.drill.enabled ? { drill: config.drill.schedule } : {}) };
}

/**
 * How `status` judges staleness, for the status CronJob and the operator's `status` command alike.
 * Its intervalHours (each tier's longest gap between runs) are also where the alarms start from.
 */
export function statusSettings(config: StackConfig): StatusSettings {
  return {
    tiers: enabledTiers(config),
    graceHours: config.alerts.graceHours,
    intervalHours: Object.fromEntries(
      enabledTiers(config).map((tier) => [tier, longestIntervalDays(config.schedules[tier], config.timeZone) * 24]),
    ),
    drillMaxAgeHours: config.drill.enabled ? DRILL_MAX_AGE_HOURS : undefined,
  };
}

/** The application's media volume as backups see it; next to the application pod when it is ReadWriteOnce. */
function mediaMount(config: StackConfig): RunnerPodBase["media"] {
  return config.media
    ? {
        pvcName: config.media.pvcName,
        mountPath: config.media.mountPath,
        subPath: config.media.subPath,
        colocateWith: config.media.accessMode === "ReadWriteOnce" ? config.media.appPodSelector : undefined,
      }
    : undefined;
}

/**
 * What every runner pod shares (see components/schedule/runner-pod.ts); the image and the service
 * account are known once those resources exist.
 */
export function runnerPodBase(
  config: StackConfig,
  configMapName: string,
  storeKey: { secretName: string; key: string } | undefined,
): Omit<RunnerPodBase, "image" | "serviceAccountName"> {
  return {
    configMapName,
    databaseCa: config.database.caBundle,
    passwordSecret: { name: config.database.secretName, key: config.database.passwordKey },
    restoreRole: config.database.restoreRole && {
      user: config.database.restoreRole.user,
      passwordSecret: { name: config.database.restoreRole.secretName, key: config.database.restoreRole.passwordKey },
    },
    media: mediaMount(config),
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
}

/** How the runner connects to the database (the password comes from its Secret, in the pod). */
export function runnerDatabase(config: StackConfig) {
  return {
    host: config.database.host,
    port: config.database.port,
    name: config.database.name,
    user: config.database.user,
    sslMode: config.database.sslMode,
    caBundle: config.database.caBundle !== undefined,
  };
}

/** The drill CronJob's settings; undefined = no drill. */
export function drillArgs(config: StackConfig): BackupScheduleArgs["drill"] {
  return config.drill.enabled
    ? { schedule: config.drill.schedule, tier: config.drill.tier, scratchSizeLimit: config.drill.scratchSizeLimit }
    : undefined;
}

/** The CloudWatch alarms, with metrics on (undefined otherwise): thresholds from `status`'s intervals. */
export function alarmsArgs(config: StackConfig, status: StatusSettings): BackupAlarmsArgs | undefined {
  if (!config.cloudwatchNamespace) return undefined;
  return {
    appName: config.appName,
    namespace: config.cloudwatchNamespace,
    intervals: Object.fromEntries(Object.entries(status.intervalHours).map(([tier, hours]) => [tier, hours * 3600])),
    graceHours: config.alerts.graceHours,
    statusEveryHours: config.alerts.statusEveryHours,
    emails: config.alertEmails,
    topicKmsKeyArn: config.alerts.topicKmsKeyArn,
    drill: config.drill.enabled ? { maxAgeHours: DRILL_MAX_AGE_HOURS } : undefined,
    referenceCheck: Boolean(config.media?.references?.length),
  };
}

/** The CloudWatch dashboard: on by default with metrics, undefined when off. */
export function dashboardArgs(
  config: StackConfig,
  status: StatusSettings,
  region: pulumi.Input<string>,
): BackupDashboardArgs | undefined {
  if (!config.cloudwatchNamespace || !(config.cloudwatchDashboard ?? true)) return undefined;
  return {
    appName: config.appName,
    namespace: config.cloudwatchNamespace,
    region,
    maxAgeSeconds: Object.fromEntries(
      Object.entries(status.intervalHours).map(([tier, hours]) => [
        tier,
        Math.ceil(hours * 3600) + config.alerts.graceHours * 3600,
      ]),
    ),
    drill: config.drill.enabled ? { maxAgeSeconds: DRILL_MAX_AGE_HOURS * 3600 } : undefined,
  };
}

/** The exporter's ServiceMonitor, when asked for. */
export function exporterMonitoring(config: StackConfig): BackupExporterArgs["monitoring"] {
  return config.exporter.serviceMonitor
    ? { scrapeInterval: config.exporter.scrapeInterval, labels: config.exporter.prometheusLabels }
    : undefined;
}
