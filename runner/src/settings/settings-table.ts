/**
 * Every setting the runner reads, in one table: its flag and the commands that offer it, and the
 * default the runner applies when neither is given. The names and their validation are the
 * contract's (runnerEnvSchema, whose doc comments say what each means); the "NAME (--flag)" labels
 * of problem messages come from here (settingLabel), and test/runner/settings-table.test.ts holds
 * the commander options, the hand-written labels and README's configuration table to it.
 */
import {
  DEFAULT_APP_NAME,
  DEFAULT_DRILL_SAMPLE_FILES,
  DEFAULT_DRILL_TIERS,
  DEFAULT_EXPORTER_LISTEN,
  DEFAULT_EXPORTER_REFRESH_SECONDS,
  DEFAULT_KEEP_PREVIOUS_HOURS,
  DEFAULT_MEDIA_FORMAT,
  DEFAULT_RETENTION_DAYS,
  DEFAULT_STATUS_GRACE_HOURS,
  DEFAULT_STATUS_TIERS,
  DEFAULT_STORE_GC_GRACE_HOURS,
  retentionEnvName,
  TIERS,
  type Compression,
  type DatabaseCompression,
  type RunnerEnvName,
} from "../contract.js";

/** The runner's commands (cli/*-command.ts). */
const COMMANDS = [
  "backup",
  "verify",
  "files",
  "restore",
  "drill",
  "import",
  "list",
  "status",
  "prune",
  "undo-restore",
  "cleanup",
  "gc",
  "exporter",
  "check-deploy",
] as const;
export type CommandName = (typeof COMMANDS)[number];

/** The commands that read a destination: every one but check-deploy (cli/shared.ts's addDestinationOptions). */
const READS_DESTINATION = COMMANDS.filter((c) => c !== "check-deploy");

export interface Setting {
  /** The flag that gives this run's value (it overrides the variable), on `commands`. */
  flag?: { name: string; commands: readonly CommandName[] };
  /** A flag that turns the setting on or off rather than giving its value (`--no-keep-previous`). */
  switch?: { name: string; commands: readonly CommandName[] };
  /** What the runner uses when the variable is unset, as the README states it. */
  default?: string;
}

/** The media archive's compression level when MEDIA_COMPRESSION_LEVEL is unset. */
export const DEFAULT_MEDIA_LEVEL: Readonly<Record<Compression, number>> = { gzip: 1, zstd: 1, none: 0 };
/**
 * zstd -1 after pg_dump -Z0: on the bench's data sets a smaller dump than pg_dump's own zlib -6,
 * in less time, on its own core (BENCHMARKS.md, "Database compression").
 */
export const DEFAULT_DUMP_COMPRESSION: DatabaseCompression = { method: "zstd", level: 1 };

/** The runner's own defaults for the variables that have one and no constant in the contract. */
export const RUNNER_DEFAULTS = {
  BACKUP_TRIGGER: "manual",
  LOG_LEVEL: "info",
  PROGRESS_INTERVAL_SECONDS: 10,
  // zstd -1: on incompressible scans gzip is the slowest stage of a backup, while zstd -1 keeps up
  // with pg_dump at ~1-2% larger archives (BENCHMARKS.md).
  MEDIA_COMPRESSION: "zstd",
  MEDIA_STORE_TRANSFERS: 8,
  // Two parts in flight per stream: memory stays ~50 MiB of part buffers for both streams.
  S3_QUEUE_SIZE: 2,
  RESTORE_JOBS: 1,
} as const;

const on = (name: string, ...commands: CommandName[]) => ({ name, commands });
const list = (values: readonly string[]) => values.join(",");

export const SETTINGS: Readonly<Record<RunnerEnvName, Setting>> = {
  DATABASE_URL: { flag: on("--database-url", "backup", "restore", "undo-restore", "cleanup", "check-deploy") },
  DRILL_DATABASE_URL: { flag: on("--database-url", "drill") },
  MEDIA_DIR: { flag: on("--media-dir", "backup", "restore", "undo-restore", "cleanup") },
  BACKUP_DESTINATION: { flag: on("--destination", ...READS_DESTINATION) },
  S3_ENDPOINT: { flag: on("--s3-endpoint", ...READS_DESTINATION) },
  BACKUP_TIER: { flag: on("--tier", "backup") },
  BACKUP_TRIGGER: { flag: on("--trigger", "backup"), default: RUNNER_DEFAULTS.BACKUP_TRIGGER },
  APP_NAME: { default: DEFAULT_APP_NAME },
  APP_VERSION: { flag: on("--app-version", "backup") },
  BACKUP_DATABASE: { flag: on("--no-database", "backup") },
  MEDIA_REFERENCES: { flag: on("--media-references", "backup") },
  BACKUP_MEDIA: { flag: on("--no-media", "backup") },
  MEDIA_FORMAT: { flag: on("--media-format", "backup"), default: DEFAULT_MEDIA_FORMAT },
  MEDIA_STORE_KEY: {},
  MEDIA_STORE_KEY_FILE: {},
  MEDIA_STORE_TRANSFERS: { default: String(RUNNER_DEFAULTS.MEDIA_STORE_TRANSFERS) },
  MEDIA_STORE_GC_GRACE_HOURS: { default: String(DEFAULT_STORE_GC_GRACE_HOURS) },
  MEDIA_COMPRESSION: { flag: on("--compression", "backup"), default: RUNNER_DEFAULTS.MEDIA_COMPRESSION },
  MEDIA_COMPRESSION_LEVEL: {
    flag: on("--compression-level", "backup"),
    default: `level ${DEFAULT_MEDIA_LEVEL[RUNNER_DEFAULTS.MEDIA_COMPRESSION]}`,
  },
  PG_DUMP_COMPRESSION: { default: `${DEFAULT_DUMP_COMPRESSION.method}:${DEFAULT_DUMP_COMPRESSION.level}` },
  RESTORE_SCRATCH_DIR: { flag: on("--scratch-dir", "restore") },
  RESTORE_JOBS: { flag: on("--jobs", "restore") },
  PG_BIN_DIR: {},
  S3_QUEUE_SIZE: { default: String(RUNNER_DEFAULTS.S3_QUEUE_SIZE) },
  S3_PART_SIZE_MIB: {},
  OBJECT_LOCK_MODE: {},
  OBJECT_LOCK_DAYS: {},
  ...(Object.fromEntries(
    TIERS.map((tier) => [retentionEnvName(tier), { default: String(DEFAULT_RETENTION_DAYS[tier]) }]),
  ) as Record<ReturnType<typeof retentionEnvName>, Setting>),
  STATUS_TIERS: { default: list(DEFAULT_STATUS_TIERS) },
  STATUS_INTERVAL_HOURS: {},
  STACK_CREATED_AT: {},
  STATUS_FIRST_RUNS: {},
  STATUS_DRILL_MAX_AGE_HOURS: {},
  DRILL_TIERS: { switch: on("--rotate", "drill"), default: list(DEFAULT_DRILL_TIERS) },
  DRILL_MEDIA_SAMPLE_ABOVE: {},
  DRILL_MEDIA_SAMPLE_FILES: { default: String(DEFAULT_DRILL_SAMPLE_FILES) },
  STATUS_GRACE_HOURS: { default: String(DEFAULT_STATUS_GRACE_HOURS) },
  KEEP_PREVIOUS_HOURS: { switch: on("--no-keep-previous", "restore"), default: String(DEFAULT_KEEP_PREVIOUS_HOURS) },
  LOG_FORMAT: { flag: on("--log-format", ...COMMANDS) },
  LOG_LEVEL: { default: RUNNER_DEFAULTS.LOG_LEVEL },
  PROGRESS_INTERVAL_SECONDS: { default: `${RUNNER_DEFAULTS.PROGRESS_INTERVAL_SECONDS} s` },
  HEALTHCHECK_URL: {},
  NOTIFY_WEBHOOK_URL: {},
  ENCRYPTION_RECIPIENTS: { flag: on("--encrypt-to", "backup", "import") },
  ALLOW_PLAINTEXT: { flag: on("--allow-plaintext", "backup", "import") },
  AGE_IDENTITY_FILE: {},
  AGE_IDENTITY: {},
  CLOUDWATCH_NAMESPACE: { switch: on("--publish-metrics", "status") },
  RUN_SUMMARY_TOPIC_ARN: {},
  EXPORTER_LISTEN: { flag: on("--listen", "exporter"), default: DEFAULT_EXPORTER_LISTEN },
  EXPORTER_REFRESH_SECONDS: {
    flag: on("--refresh-seconds", "exporter"),
    default: String(DEFAULT_EXPORTER_REFRESH_SECONDS),
  },
};

/** How problem messages name a setting: "MEDIA_DIR (--media-dir)", or the bare name without a flag. */
export function settingLabel(name: RunnerEnvName): string {
  const flag = SETTINGS[name].flag;
  return flag ? `${name} (${flag.name})` : name;
}
