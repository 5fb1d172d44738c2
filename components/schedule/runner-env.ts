/**
 * The environment the CronJobs give the runner. Runner variables are typed by the runner's own
 * contract (`RunnerEnv`), so a renamed or misspelled variable fails the type check here; the tests
 * also parse the result with the runner's `runnerEnvSchema`.
 */
import {
  DATABASE_CA_PATH,
  formatIntervalHours,
  STORE_GC_COMMAND,
  tierTrigger,
  type MediaFormat,
  type RunnerEnv,
  type ScheduledTier,
  type Tier,
} from "../../runner/src/contract.js";
import type { SecretEnv } from "./pod-spec.js";

/** libpq's own variables; the password is never here (it comes from the Secret via secretKeyRef). */
export interface LibpqEnv {
  PGHOST: string;
  PGPORT: string;
  PGDATABASE: string;
  PGUSER: string;
  PGSSLMODE: string;
  /** Set when the stack mounts a CA bundle (database.caBundle): libpq then verifies the server with it. */
  PGSSLROOTCERT?: string;
}

/** Variables the AWS SDK reads itself (Pod Identity does not inject a region; IRSA may). */
export interface AwsSdkEnv {
  AWS_REGION: string;
}

/** Names outside the runner contract that the pods may carry, for the tests' closed-world check. */
export const LIBPQ_ENV_NAMES = [
  "PGHOST",
  "PGPORT",
  "PGDATABASE",
  "PGUSER",
  "PGSSLMODE",
  "PGSSLROOTCERT",
  "PGPASSWORD",
] as const;
export const AWS_ENV_NAMES = ["AWS_REGION"] as const;
export const PASSWORD_ENV = "PGPASSWORD";

export interface RunnerSettingsInput {
  appName: string;
  appVersion?: string;
  bucketName: string;
  keyPrefix: string;
  region: string;
  /** Where the media volume is mounted; undefined = the application has no media folder. */
  mediaDir?: string;
  /** Columns whose media paths each backup checks (stack config media.references). */
  mediaReferences?: readonly string[];
  /** How backups write the media (stack config mediaFormat); the content store's transfers. */
  mediaFormat?: MediaFormat;
  storeTransfers?: number;
  logLevel: NonNullable<RunnerEnv["LOG_LEVEL"]>;
  cloudwatchNamespace?: string;
  /** The run-summary SNS topic backups and drills publish to (stack config runSummary). */
  runSummaryTopicArn?: string;
  /** age X25519 recipients every backup encrypts to (public keys); unset = no client-side encryption. */
  encryptionRecipients?: string[];
  database: { host: string; port: number; name: string; user: string; sslMode: string; caBundle?: boolean };
  /** The first-deploy stamp and the first runs counted from it (see first-deploy.ts). */
  firstDeploy?: { createdAt: string; firstRuns: string };
}

export function backupDestination(bucketName: string, keyPrefix: string): string {
  return `s3://${bucketName}/${keyPrefix}`;
}

/** Settings shared by every run: the ConfigMap's data. */
export function sharedRunnerEnv(s: RunnerSettingsInput): { runner: RunnerEnv; libpq: LibpqEnv; aws: AwsSdkEnv } {
  const runner: RunnerEnv = {
    APP_NAME: s.appName,
    BACKUP_DESTINATION: backupDestination(s.bucketName, s.keyPrefix),
    BACKUP_DATABASE: "true",
    BACKUP_MEDIA: s.mediaDir ? "true" : "false",
    // JSON lines: `kubectl logs` output goes to log collectors, not a terminal.
    LOG_FORMAT: "json",
    LOG_LEVEL: s.logLevel,
  };
  if (s.mediaDir) runner.MEDIA_DIR = s.mediaDir;
  // Each item was validated as one column by the stack schema; the runner checks them against the database.
  if (s.mediaDir && s.mediaReferences?.length) runner.MEDIA_REFERENCES = s.mediaReferences.join(",");
  // Explicit even when it is the runner's default: the ConfigMap says how this stack's sets are written.
  if (s.mediaDir && s.mediaFormat) runner.MEDIA_FORMAT = s.mediaFormat;
  if (s.storeTransfers) runner.MEDIA_STORE_TRANSFERS = String(s.storeTransfers);
  if (s.appVersion) runner.APP_VERSION = s.appVersion;
  if (s.cloudwatchNamespace) runner.CLOUDWATCH_NAMESPACE = s.cloudwatchNamespace;
  if (s.runSummaryTopicArn) runner.RUN_SUMMARY_TOPIC_ARN = s.runSummaryTopicArn;
  if (s.encryptionRecipients?.length) runner.ENCRYPTION_RECIPIENTS = s.encryptionRecipients.join(",");
  if (s.firstDeploy) {
    runner.STACK_CREATED_AT = s.firstDeploy.createdAt;
    if (s.firstDeploy.firstRuns) runner.STATUS_FIRST_RUNS = s.firstDeploy.firstRuns;
  }
  return {
    runner,
    libpq: {
      PGHOST: s.database.host,
      PGPORT: String(s.database.port),
      PGDATABASE: s.database.name,
      PGUSER: s.database.user,
      PGSSLMODE: s.database.sslMode,
      // The file every pod mounts from database.caBundle (podSpec's `databaseCa`).
      ...(s.database.caBundle ? { PGSSLROOTCERT: DATABASE_CA_PATH } : {}),
    },
    aws: { AWS_REGION: s.region },
  };
}

/** The ConfigMap's data: every shared setting, as strings. */
export function configMapData(s: RunnerSettingsInput): Record<string, string> {
  const { runner, libpq, aws } = sharedRunnerEnv(s);
  const data: Record<string, string> = { ...aws };
  for (const [name, value] of Object.entries(libpq)) if (value !== undefined) data[name] = value;
  for (const [name, value] of Object.entries(runner)) if (value !== undefined) data[name] = value;
  return data;
}

export interface ObjectLockEnv {
  mode: NonNullable<RunnerEnv["OBJECT_LOCK_MODE"]>;
  retentionDays: number;
}

/** What differs per CronJob: the tier, who triggers it, and how long its objects stay locked. */
export function tierEnv(tier: Tier, objectLock?: ObjectLockEnv): RunnerEnv {
  const env: RunnerEnv = { BACKUP_TIER: tier, BACKUP_TRIGGER: tierTrigger(tier) };
  if (objectLock) {
    env.OBJECT_LOCK_MODE = objectLock.mode;
    env.OBJECT_LOCK_DAYS = String(objectLock.retentionDays);
  }
  return env;
}

/**
 * The drill reads a tier's newest backup. "rotate": a different tier each week, among the enabled
 * ones (DRILL_TIERS); it writes only its small result record under drills/.
 */
export type DrillTier = ScheduledTier | "rotate";
export function drillEnv(tier: DrillTier, enabled: readonly ScheduledTier[]): RunnerEnv {
  const env: RunnerEnv = { BACKUP_TRIGGER: "schedule" };
  if (tier === "rotate") env.DRILL_TIERS = enabled.join(",");
  else env.BACKUP_TIER = tier;
  return env;
}

/** The runner's command line per workload (the image's entrypoint is the runner itself). */
export function backupArgs(tier: Tier): string[] {
  return ["backup", "--tier", tier];
}

/** The drill's scratch folder: its own emptyDir, sized for a copy of the media (see stack config). */
export const DRILL_SCRATCH_DIR = "/scratch";

export function drillArgs(tier: DrillTier): string[] {
  const pick = tier === "rotate" ? ["--rotate"] : ["--tier", tier];
  return ["drill", "latest", ...pick, "--scratch-dir", DRILL_SCRATCH_DIR];
}

/**
 * The content store's gc (its own CronJob and identity): deletes unreferenced content objects
 * without asking (--yes); the grace unset = the runner's default.
 */
export function gcArgs(): string[] {
  return [STORE_GC_COMMAND, "--yes"];
}
export function gcEnv(graceHours?: number): RunnerEnv {
  return graceHours ? { MEDIA_STORE_GC_GRACE_HOURS: String(graceHours) } : {};
}

/** `status` publishing the ages the alarms watch (the ConfigMap carries CLOUDWATCH_NAMESPACE). */
export function statusArgs(): string[] {
  return ["status", "--publish-metrics"];
}

/**
 * The tiers that have a schedule, their intervals (the longest gap of each schedule) and the
 * grace the alarms use, so `status` and the alarms call the same tier stale at the same moment.
 */
export function statusEnv(
  tiers: readonly ScheduledTier[],
  graceHours: number,
  intervalHours: Partial<Record<ScheduledTier, number>>,
  drillMaxAgeHours?: number,
): RunnerEnv {
  return {
    STATUS_TIERS: tiers.join(","),
    STATUS_GRACE_HOURS: String(graceHours),
    STATUS_INTERVAL_HOURS: formatIntervalHours(intervalHours),
    ...(drillMaxAgeHours ? { STATUS_DRILL_MAX_AGE_HOURS: String(drillMaxAgeHours) } : {}),
  };
}

/** Keys of the notifications Secret: one webhook for every run, one healthcheck per tier and one for the drill. */
export const WEBHOOK_URL_KEY = "webhook-url";
export type NotifyingWorkload = Tier | "drill";
export const healthcheckUrlKey = (workload: NotifyingWorkload) => `healthcheck-url-${workload}`;

/**
 * Healthcheck and webhook URLs carry tokens, so they come from a Secret, never the ConfigMap.
 * Optional references: a missing Secret or key leaves the variable unset instead of blocking the pod.
 */
export function notificationSecretEnv(secretName: string, workload: NotifyingWorkload): SecretEnv[] {
  return [
    { name: "HEALTHCHECK_URL", secretName, key: healthcheckUrlKey(workload), optional: true },
    { name: "NOTIFY_WEBHOOK_URL", secretName, key: WEBHOOK_URL_KEY, optional: true },
  ];
}
