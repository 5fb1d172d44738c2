/**
 * Turns the environment (12-factor) and command-line flags into validated settings. Flags override
 * the environment variable of the same meaning. Every problem is collected, so one run names every
 * bad or missing field at once (exit 2), and nothing has been touched yet.
 */
import type { z } from "zod";
import {
  COMPRESSION_LEVELS,
  DEFAULT_APP_NAME,
  PROTECTED_DATABASES,
  DEFAULT_KEEP_PREVIOUS_HOURS,
  DEFAULT_MEDIA_FORMAT,
  type MediaFormat,
  pickRunnerEnv,
  runnerEnvSchema,
  type Compression,
  type DatabaseCompression,
  type MediaReferenceColumn,
  type ParsedRunnerEnv,
  type RunnerEnv,
  type RunnerEnvName,
  type Tier,
  TIERS,
  type Trigger,
} from "../contract.js";
import { parseDestination, type Destination } from "./destination.js";
import { DEFAULT_DUMP_COMPRESSION, DEFAULT_MEDIA_LEVEL, RUNNER_DEFAULTS, settingLabel } from "./settings-table.js";
import { ConfigError } from "../errors.js";
import { resolvePgConnection, type PgConnection } from "../pg/connection.js";
import { loadIdentity, type IdentitySettings } from "../encryption/identity.js";
import { splitRecipients } from "../encryption/recipients.js";
import { STORE_KEY_REQUIRED } from "../media-store/object-names.js";

export interface CommonSettings {
  destination: Destination;
  s3Endpoint?: string;
  appName: string;
  logFormat: "json" | "pretty";
  logLevel: NonNullable<ParsedRunnerEnv["LOG_LEVEL"]>;
  progressIntervalMs: number;
  pgBinDir?: string;
  env: ParsedRunnerEnv;
  /** Environment variables that do not apply to this run and were ignored (logged at debug level). */
  ignored: string[];
}

export interface MediaSettings {
  dir: string;
  /** tar: compression and level apply to the archive; store: to nothing (objects are stored as read). */
  compression: Compression;
  level: number;
  format: MediaFormat;
  /** store: content objects in flight at once. */
  transfers: number;
}

export interface BackupSettings extends CommonSettings {
  tier: Tier;
  trigger: Trigger;
  appVersion?: string;
  database: PgConnection | null;
  media: MediaSettings | null;
  pgDumpCompression: DatabaseCompression;
  queueSize: number;
  partSizeMiB?: number;
  lock?: { mode: "GOVERNANCE" | "COMPLIANCE"; days: number };
  /** Columns whose paths are checked against the media archive; empty = no check. */
  mediaReferences: MediaReferenceColumn[];
  /** Client-side encryption: every object is encrypted to these age recipients. */
  encryption?: { recipients: string[] };
}

/** Validates the raw variables; returns the parsed values and the problems found. */
function parseEnv(raw: RunnerEnv): { env: ParsedRunnerEnv; problems: string[] } {
  const result = runnerEnvSchema.safeParse(raw);
  if (result.success) return { env: result.data, problems: [] };
  const problems = result.error.issues.map((issue: z.core.$ZodIssue) => {
    const name = String(issue.path[0]) as RunnerEnvName;
    // The URL may hold a password, the identity is one; reference problems already quote the bad entry.
    const value =
      name === "DATABASE_URL" || name === "MEDIA_REFERENCES" || name === "AGE_IDENTITY" || name === "MEDIA_STORE_KEY"
        ? ""
        : ` (got "${raw[name] ?? ""}")`;
    return `${settingLabel(name)}: ${issue.message}${value}`;
  });
  // Keep what parsed, so later checks do not repeat an already-reported field.
  const env: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(runnerEnvSchema.shape)) {
    const one = schema.safeParse(raw[name as RunnerEnvName]);
    if (one.success) env[name] = one.data;
  }
  return { env: env as ParsedRunnerEnv, problems };
}

/** Merges flags (already keyed by variable name) over the process environment. */
export function mergeEnv(processEnv: NodeJS.ProcessEnv, overrides: RunnerEnv): RunnerEnv {
  const merged = pickRunnerEnv(processEnv);
  for (const [name, value] of Object.entries(overrides) as [RunnerEnvName, string | undefined][]) {
    if (value !== undefined) merged[name] = value;
  }
  return merged;
}

/** The variables a flag set on this run (as opposed to the process environment). */
function explicitNames(overrides: RunnerEnv): ReadonlySet<RunnerEnvName> {
  return new Set(
    (Object.entries(overrides) as [RunnerEnvName, string | undefined][])
      .filter(([, v]) => v !== undefined)
      .map(([k]) => k),
  );
}

function common(
  env: ParsedRunnerEnv,
  problems: string[],
  isTty: boolean,
  explicit: ReadonlySet<RunnerEnvName>,
): Omit<CommonSettings, "destination"> & { destination?: Destination } {
  let destination: Destination | undefined;
  if (!env.BACKUP_DESTINATION) {
    problems.push(
      `${settingLabel("BACKUP_DESTINATION")}: required, e.g. s3://my-bucket/edms or file:///var/backups/edms`,
    );
  } else {
    const parsed = parseDestination(env.BACKUP_DESTINATION);
    if (typeof parsed === "string") problems.push(`${settingLabel("BACKUP_DESTINATION")}: ${parsed}`);
    else destination = parsed;
  }
  const ignored: string[] = [];
  let s3Endpoint = env.S3_ENDPOINT;
  if (s3Endpoint && destination?.kind === "file") {
    // A flag is what the operator asked for on this run: one that cannot apply is a mistake. A
    // variable may just be in the environment (a shared .env, a ConfigMap): it is ignored.
    if (explicit.has("S3_ENDPOINT"))
      problems.push(
        `${settingLabel("S3_ENDPOINT")}: only applies to s3:// destinations (BACKUP_DESTINATION is file://)`,
      );
    else ignored.push("S3_ENDPOINT (only applies to s3:// destinations)");
    s3Endpoint = undefined;
  }
  return {
    destination,
    ignored,
    s3Endpoint,
    appName: env.APP_NAME ?? DEFAULT_APP_NAME,
    logFormat: env.LOG_FORMAT ?? (isTty ? "pretty" : "json"),
    logLevel: env.LOG_LEVEL ?? RUNNER_DEFAULTS.LOG_LEVEL,
    progressIntervalMs: (env.PROGRESS_INTERVAL_SECONDS ?? RUNNER_DEFAULTS.PROGRESS_INTERVAL_SECONDS) * 1000,
    pgBinDir: env.PG_BIN_DIR,
    env,
  };
}

export interface LoadOptions {
  processEnv: NodeJS.ProcessEnv;
  overrides: RunnerEnv;
  isTty: boolean;
}

/** Settings shared by every command that reads a destination (list, verify, status, ...). */
export function loadCommonSettings(options: LoadOptions): CommonSettings {
  const { env, problems } = parseEnv(mergeEnv(options.processEnv, options.overrides));
  const settings = common(env, problems, options.isTty, explicitNames(options.overrides));
  if (problems.length || !settings.destination) throw new ConfigError(problems);
  return { ...settings, destination: settings.destination };
}

/** The encryption of what a run writes (backup, import): the recipients, when any are set. */
export function encryptionSettings(env: ParsedRunnerEnv): BackupSettings["encryption"] {
  const recipients = splitRecipients(env.ENCRYPTION_RECIPIENTS);
  return recipients ? { recipients } : undefined;
}

/** The database half of a backup: its connection, or null when the run leaves it out. */
function backupDatabase(withDatabase: boolean, env: ParsedRunnerEnv, options: LoadOptions, problems: string[]) {
  if (!withDatabase) return null;
  const resolved = resolvePgConnection(env.DATABASE_URL, options.processEnv);
  if (typeof resolved !== "string") return resolved;
  problems.push(`${settingLabel("DATABASE_URL")}: ${resolved}`);
  return null;
}

/** The media half of a backup: its folder, compression and format, or null when left out or invalid. */
function backupMedia(
  withMedia: boolean,
  env: ParsedRunnerEnv,
  merged: RunnerEnv,
  problems: string[],
): MediaSettings | null {
  if (!withMedia) return null;
  if (!env.MEDIA_DIR) {
    problems.push(`${settingLabel("MEDIA_DIR")}: required (the media folder to archive), or pass --no-media`);
    return null;
  }
  if (!env.MEDIA_DIR.startsWith("/")) {
    problems.push(`${settingLabel("MEDIA_DIR")}: must be an absolute path (got "${env.MEDIA_DIR}")`);
    return null;
  }
  const compression = env.MEDIA_COMPRESSION ?? RUNNER_DEFAULTS.MEDIA_COMPRESSION;
  const level = env.MEDIA_COMPRESSION_LEVEL ?? DEFAULT_MEDIA_LEVEL[compression];
  const [min, max] = COMPRESSION_LEVELS[compression];
  if (compression !== "none" && level > max) {
    problems.push(
      `${settingLabel("MEDIA_COMPRESSION_LEVEL")}: ${compression} levels are ${min} to ${max} (got ${level})`,
    );
  }
  const format = env.MEDIA_FORMAT ?? DEFAULT_MEDIA_FORMAT;
  // The key itself is read (and its file's length checked) by the backup's preflight.
  if (format === "store" && env.MEDIA_STORE_KEY && env.MEDIA_STORE_KEY_FILE)
    problems.push("MEDIA_STORE_KEY_FILE and MEDIA_STORE_KEY: set one of them, not both");
  // Unencrypted sets may use a key kept in the destination; encrypted ones must be given one.
  const encrypted = encryptionSettings(env) !== undefined;
  if (format === "store" && encrypted && !env.MEDIA_STORE_KEY && !env.MEDIA_STORE_KEY_FILE && !merged.MEDIA_STORE_KEY)
    problems.push(STORE_KEY_REQUIRED);
  return {
    dir: env.MEDIA_DIR.replace(/\/+$/, "") || "/",
    compression,
    level,
    format,
    transfers: env.MEDIA_STORE_TRANSFERS ?? RUNNER_DEFAULTS.MEDIA_STORE_TRANSFERS,
  };
}

/** The Object Lock retention of what a backup writes, when both halves are set for an s3:// destination. */
function backupLock(env: ParsedRunnerEnv, base: ReturnType<typeof common>, problems: string[]): BackupSettings["lock"] {
  if (!env.OBJECT_LOCK_MODE && !env.OBJECT_LOCK_DAYS) return undefined;
  if (base.destination?.kind === "file") {
    // Only variables set these, never a flag: an ambient setting that cannot apply is ignored.
    base.ignored.push("OBJECT_LOCK_MODE, OBJECT_LOCK_DAYS (Object Lock only applies to s3:// destinations)");
    return undefined;
  }
  if (!env.OBJECT_LOCK_MODE || !env.OBJECT_LOCK_DAYS) {
    problems.push(
      "OBJECT_LOCK_MODE and OBJECT_LOCK_DAYS: set both (mode GOVERNANCE or COMPLIANCE, days of retention) or neither",
    );
    return undefined;
  }
  return { mode: env.OBJECT_LOCK_MODE, days: env.OBJECT_LOCK_DAYS };
}

/** Settings of the backup command. */
export function loadBackupSettings(options: LoadOptions): BackupSettings {
  const merged = mergeEnv(options.processEnv, options.overrides);
  const { env, problems } = parseEnv(merged);
  const base = common(env, problems, options.isTty, explicitNames(options.overrides));

  if (!env.BACKUP_TIER && !merged.BACKUP_TIER) {
    problems.push(`${settingLabel("BACKUP_TIER")}: required, one of ${TIERS.join(", ")}`);
  }
  const withDatabase = env.BACKUP_DATABASE ?? true;
  const withMedia = env.BACKUP_MEDIA ?? true;
  if (!withDatabase && !withMedia) {
    problems.push(
      "BACKUP_DATABASE and BACKUP_MEDIA (--no-database, --no-media): both are off, so there is nothing to back up",
    );
  }
  const database = backupDatabase(withDatabase, env, options, problems);
  const media = backupMedia(withMedia, env, merged, problems);
  const lock = backupLock(env, base, problems);

  // The check needs both halves; an ambient MEDIA_REFERENCES (a shared ConfigMap) is simply
  // unused by a run without one, while the explicit flag is an error there.
  if (env.MEDIA_REFERENCES && (!withDatabase || !withMedia) && options.overrides.MEDIA_REFERENCES !== undefined) {
    problems.push(`${settingLabel("MEDIA_REFERENCES")}: needs both the database and the media folder in the backup`);
  }
  const mediaReferences = withDatabase && withMedia ? (env.MEDIA_REFERENCES ?? []) : [];

  if (problems.length || !base.destination || !env.BACKUP_TIER) throw new ConfigError(problems);
  return {
    ...base,
    destination: base.destination,
    tier: env.BACKUP_TIER,
    trigger: env.BACKUP_TRIGGER ?? RUNNER_DEFAULTS.BACKUP_TRIGGER,
    appVersion: env.APP_VERSION,
    database,
    media,
    pgDumpCompression: env.PG_DUMP_COMPRESSION ?? DEFAULT_DUMP_COMPRESSION,
    queueSize: env.S3_QUEUE_SIZE ?? RUNNER_DEFAULTS.S3_QUEUE_SIZE,
    partSizeMiB: env.S3_PART_SIZE_MIB,
    lock,
    mediaReferences,
    encryption: encryptionSettings(env),
  };
}

export interface RestoreSettings extends Omit<CommonSettings, "destination"> {
  /** pg_restore from a verified copy in this folder, with this many jobs (RESTORE_SCRATCH_DIR, RESTORE_JOBS). */
  scratch?: { dir: string; jobs: number };
  /** Undefined only when restoring from a legacy archive file (--from-archive). */
  destination?: Destination;
  /** Connection to the server the database is restored on; null with --media-only. */
  database: PgConnection | null;
  /** Where the database goes (default: the connection's database). */
  targetDatabase?: string;
  /** Where the media goes (default: MEDIA_DIR); undefined with --database-only. */
  mediaDir?: string;
  /** The age identity for encrypted sets (AGE_IDENTITY_FILE or AGE_IDENTITY). */
  identity?: IdentitySettings;
  /** KEEP_PREVIOUS_HOURS: how long a restore keeps what it replaced (undo-restore, cleanup). */
  keepPreviousHours: number;
}

/**
 * What a run must never print: the database password, the age identity. Restore, drill and verify
 * have both; a backup has the database's only (reported-run.ts redacts every run with this).
 */
export function restoreSecrets(settings: {
  database?: { secrets: readonly string[] } | null;
  identity?: { secret: string };
}): string[] {
  return [...(settings.database?.secrets ?? []), ...(settings.identity ? [settings.identity.secret] : [])];
}

export interface RestoreScope {
  databaseOnly?: boolean;
  mediaOnly?: boolean;
  targetDb?: string;
  /** Drills restore into scratch copies and need no media target. */
  needsMediaTarget: boolean;
  /** Restoring from a legacy archive file: no destination is read. */
  fromArchive?: boolean;
}

/** Settings of restore and drill: the destination to read, and where the server and media are. */
export function loadRestoreSettings(options: LoadOptions, scope: RestoreScope): RestoreSettings {
  const merged = mergeEnv(options.processEnv, options.overrides);
  const { env, problems } = parseEnv(merged);
  const base = common(env, scope.fromArchive ? [] : problems, options.isTty, explicitNames(options.overrides));
  if (scope.databaseOnly && scope.mediaOnly)
    problems.push("--database-only and --media-only: choose one (or neither for both)");

  let database: PgConnection | null = null;
  if (!scope.mediaOnly) {
    // A target database alone is enough to name the connection's database.
    const resolved = resolvePgConnection(
      env.DATABASE_URL,
      scope.targetDb ? { PGDATABASE: scope.targetDb, ...options.processEnv } : options.processEnv,
    );
    const anyGiven = env.DATABASE_URL || options.processEnv.PGHOST || options.processEnv.PGDATABASE;
    // Without any connection setting the set may simply hold no database; planRestore() decides.
    if (typeof resolved !== "string") database = resolved;
    else if (anyGiven) problems.push(`${settingLabel("DATABASE_URL")}: ${resolved}`);
  }
  let mediaDir: string | undefined;
  // Whether a media target is needed depends on the backup set; planRestore() asks for it then.
  if (!scope.databaseOnly && scope.needsMediaTarget && env.MEDIA_DIR) {
    // Only the form is checked here; whether the folder may be replaced is decided on its
    // resolved path, by acceptRestoreTarget (restore/restore-target.ts), before anything is touched.
    if (!env.MEDIA_DIR.startsWith("/"))
      problems.push(`${settingLabel("MEDIA_DIR")}: must be an absolute path (got "${env.MEDIA_DIR}")`);
    else mediaDir = env.MEDIA_DIR;
  }
  const targetDatabase = scope.targetDb ?? database?.database;
  if (targetDatabase && (PROTECTED_DATABASES as readonly string[]).includes(targetDatabase))
    problems.push(
      `--target-db ${targetDatabase}: is one of the server's template databases, which a restore never replaces; name another database`,
    );
  const identity = loadIdentity(env, problems);
  let scratch: RestoreSettings["scratch"];
  if (env.RESTORE_SCRATCH_DIR !== undefined) {
    if (!env.RESTORE_SCRATCH_DIR.startsWith("/"))
      problems.push(
        `${settingLabel("RESTORE_SCRATCH_DIR")}: must be an absolute path (got "${env.RESTORE_SCRATCH_DIR}")`,
      );
    else scratch = { dir: env.RESTORE_SCRATCH_DIR, jobs: env.RESTORE_JOBS ?? RUNNER_DEFAULTS.RESTORE_JOBS };
  } else if ((env.RESTORE_JOBS ?? RUNNER_DEFAULTS.RESTORE_JOBS) > 1)
    problems.push(
      `${settingLabel("RESTORE_JOBS")}: ${env.RESTORE_JOBS} jobs need ${settingLabel("RESTORE_SCRATCH_DIR")} (pg_restore runs jobs only from a file, not from a stream)`,
    );
  if (problems.length || (!base.destination && !scope.fromArchive)) throw new ConfigError(problems);
  return {
    ...base,
    database,
    targetDatabase,
    mediaDir,
    identity,
    scratch,
    keepPreviousHours: env.KEEP_PREVIOUS_HOURS ?? DEFAULT_KEEP_PREVIOUS_HOURS,
  };
}

/** Settings of check-deploy: the database the restores run against and the encryption keys. */
export interface DeployCheckSettings {
  logFormat: "json" | "pretty";
  logLevel: NonNullable<ParsedRunnerEnv["LOG_LEVEL"]>;
  /** The restore role's connection (in the cluster: database.restoreRole and its Secret). */
  database: PgConnection;
  /** The recipients every backup encrypts to; undefined = encryption off. */
  recipients?: string[];
  /** The identity drills and restores decrypt with. */
  identity?: IdentitySettings;
}

/**
 * check-deploy reads no destination (it proves keys and roles, not the bucket), so unlike the
 * other commands it does not require BACKUP_DESTINATION.
 */
export function loadDeployCheckSettings(options: LoadOptions): DeployCheckSettings {
  const { env, problems } = parseEnv(mergeEnv(options.processEnv, options.overrides));
  const resolved = resolvePgConnection(env.DATABASE_URL, options.processEnv);
  if (typeof resolved === "string") problems.push(`${settingLabel("DATABASE_URL")}: ${resolved}`);
  const identity = loadIdentity(env, problems);
  if (problems.length || typeof resolved === "string") throw new ConfigError(problems);
  return {
    logFormat: env.LOG_FORMAT ?? (options.isTty ? "pretty" : "json"),
    logLevel: env.LOG_LEVEL ?? RUNNER_DEFAULTS.LOG_LEVEL,
    database: resolved,
    recipients: splitRecipients(env.ENCRYPTION_RECIPIENTS),
    identity,
  };
}
