/**
 * The runner's environment: every variable it reads, with its meaning and validation
 * (runnerEnvSchema), and the values the stack writes into it. Part of the runner contract
 * (../contract.ts): zod only.
 */
import { z } from "zod";
import { COMPRESSIONS, databaseCompressionSchema } from "./compression.js";
import { mediaReferencesSchema } from "./media-references.js";
import { MEDIA_FORMATS } from "./object-names.js";
import {
  DEFAULT_DRILL_TIERS,
  DEFAULT_STATUS_TIERS,
  perTier,
  retentionEnvName,
  SCHEDULE_INTERVAL_HOURS,
  SCHEDULED_TIERS,
  type RetentionEnvName,
  type Tier,
  TIERS,
  TRIGGERS,
} from "./tiers.js";

export const OBJECT_LOCK_MODES = ["GOVERNANCE", "COMPLIANCE"] as const;

const bool = z
  .enum(["true", "false", "1", "0", "yes", "no"], { message: "must be true or false" })
  .transform((v) => v === "true" || v === "1" || v === "yes");

/** An instant in UTC as Date#toISOString writes it; the Pulumi program writes these. */
const ISO_INSTANT = "\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,3})?Z";
const isoInstant = z
  .string()
  .regex(new RegExp(`^${ISO_INSTANT}$`), { message: "must be an instant in UTC, e.g. 2026-01-11T14:47:48.000Z" })
  .refine((v) => !Number.isNaN(Date.parse(v)), { message: "must be a real date and time" });

/** One tier name, as a regex alternative built from TIERS (a tier added there is accepted here). */
const TIER_NAME = `(${TIERS.join("|")})`;

/** `item(,item)*`, the whole value: the comma-separated lists the variables below hold. */
const commaList = (item: string) => new RegExp(`^${item}(,${item})*$`);

/** arn:<partition>:sns:<region>:<account>:<topic name>: a standard topic (a FIFO one needs a message group). */
export const SNS_TOPIC_ARN = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$/;

const positiveInt = (what: string) =>
  z
    .string()
    .regex(/^[0-9]+$/, { message: `must be a whole number (${what})` })
    .transform(Number)
    .refine((n) => n > 0, { message: `must be greater than zero (${what})` });

const BINARY_UNITS = { "": 1, KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30, TiB: 2 ** 40 } as const;
/** A size in bytes, plain or with a binary unit (`500MiB`, `50GiB`, `2TiB`); the value is bytes. */
const byteSize = (what: string) =>
  z
    .string()
    .regex(/^[0-9]+(KiB|MiB|GiB|TiB)?$/, {
      message: `must be a whole number of bytes, or with KiB/MiB/GiB/TiB (${what})`,
    })
    .transform((v) => {
      const [, digits, unit] = /^([0-9]+)(\w*)$/.exec(v)!;
      return Number(digits) * BINARY_UNITS[(unit ?? "") as keyof typeof BINARY_UNITS];
    })
    .refine((n) => n > 0 && Number.isSafeInteger(n), {
      message: `must be greater than zero and below 8 PiB (${what})`,
    });

/** RETENTION_DAYS_<TIER> for every tier: its retention in days for `prune`. */
const retentionDays = () => positiveInt("days").optional();
const retentionShape = Object.fromEntries(TIERS.map((tier) => [retentionEnvName(tier), retentionDays()])) as Record<
  RetentionEnvName,
  ReturnType<typeof retentionDays>
>;

/** APP_NAME when unset, and the stack's `appName` default: the prefix of names and metric labels. */
export const DEFAULT_APP_NAME = "edms";

/** DRILL_MEDIA_SAMPLE_FILES when unset: the files a sampling drill restores. */
export const DEFAULT_DRILL_SAMPLE_FILES = 1000;

/** Every variable the runner reads (besides libpq's PG* and the AWS SDK's own), with its meaning. */
export const runnerEnvShape = {
  /** postgres://user:password@host:port/db?sslmode=...; libpq's PG* variables work instead. */
  DATABASE_URL: z.string().optional(),
  /**
   * The server a drill restores onto, when not DATABASE_URL's (another server, so that "total
   * loss of the server" is drilled: roles are created there, docs/RUNBOOK.md). Same syntax.
   */
  DRILL_DATABASE_URL: z.string().optional(),
  /** The media folder to archive (read-only is enough). */
  MEDIA_DIR: z.string().optional(),
  /** s3://bucket/prefix or file:///absolute/path. */
  BACKUP_DESTINATION: z.string().optional(),
  /** S3-compatible endpoint (MinIO, moto, ...); path-style addressing is used when set. */
  S3_ENDPOINT: z.string().url({ message: "must be a URL such as http://127.0.0.1:9000" }).optional(),
  /** The tier of this run. */
  BACKUP_TIER: z.enum(TIERS, { message: `must be one of ${TIERS.join(", ")}` }).optional(),
  /** Who started the run: the schedule (CronJob) or a person. */
  BACKUP_TRIGGER: z.enum(TRIGGERS, { message: `must be one of ${TRIGGERS.join(", ")}` }).optional(),
  /** Name of the application, used in logs, metrics and notifications. */
  APP_NAME: z.string().min(1).optional(),
  /** The application's version (the seed's git commit), recorded in the manifest. */
  APP_VERSION: z.string().optional(),
  /** Set to false for an application without a database. */
  BACKUP_DATABASE: bool.optional(),
  /**
   * Columns that hold media paths relative to MEDIA_DIR (Django FileField/ImageField), e.g.
   * documents_document.file,public.documents_page.image: each backup checks that the files they
   * name are in its media archive (manifest media.references).
   */
  MEDIA_REFERENCES: mediaReferencesSchema.optional(),
  /** Set to false for an application without a media folder. */
  BACKUP_MEDIA: bool.optional(),
  /**
   * How a backup writes the media folder: `tar` (one archive per set, `storage.tar[.zst|.gz][.age]`,
   * as every release wrote it; a single portable file) or `store` (a per-set media index plus one
   * content object per distinct file content under STORE_OBJECTS_PREFIX, shared by every set:
   * unchanged files are stored once). Default: store. Both are always read.
   */
  MEDIA_FORMAT: z.enum(MEDIA_FORMATS, { message: `must be one of ${MEDIA_FORMATS.join(", ")}` }).optional(),
  /**
   * The per-stack secret that names content objects (store format): an object's name is
   * HMAC-SHA256(key, content sha256 + how it is stored), so listing the bucket never reveals a
   * content hash (nobody without the key can test whether a known document is stored). At least
   * 32 characters (`openssl rand -hex 32`). A secret: redacted, never passed to child processes;
   * only backup pods need it (restore, verify and gc read object names from the index).
   * Prefer MEDIA_STORE_KEY_FILE. Changing it stops deduplication against older objects, nothing else.
   * Required for encrypted sets; unset for unencrypted ones, the destination keeps its own
   * (STORE_DESTINATION_KEY, made by the first store backup).
   */
  MEDIA_STORE_KEY: z.string().min(32, { message: "must be at least 32 characters (openssl rand -hex 32)" }).optional(),
  /** A file holding MEDIA_STORE_KEY (e.g. a mounted Secret); surrounding whitespace is ignored. */
  MEDIA_STORE_KEY_FILE: z.string().optional(),
  /** Content objects uploaded or downloaded at once by a store-format backup or restore (default 8, at most 64). */
  MEDIA_STORE_TRANSFERS: positiveInt("objects in flight")
    .refine((n) => n <= 64, { message: "must be at most 64 (objects in flight)" })
    .optional(),
  /**
   * gc (store format): hours an object must have been unreferenced by every complete set, and by
   * every set started within this many hours, before gc deletes it (default
   * DEFAULT_STORE_GC_GRACE_HOURS). 0: a candidate goes at the next run (never in the run that
   * first saw it unreferenced). Safety against running backups does not rest on it (gc leases,
   * media-store/gc-lease.ts); it keeps an interrupted backup's objects for the run that resumes it.
   */
  MEDIA_STORE_GC_GRACE_HOURS: z
    .string()
    .regex(/^[0-9]+$/, { message: "must be a whole number (hours, 0 or more)" })
    .transform(Number)
    .optional(),
  /** Compression of the media archive. */
  MEDIA_COMPRESSION: z.enum(COMPRESSIONS, { message: `must be one of ${COMPRESSIONS.join(", ")}` }).optional(),
  /** Compression level (gzip 1-9, zstd 1-19). */
  MEDIA_COMPRESSION_LEVEL: positiveInt("compression level").optional(),
  /**
   * How the database dump is compressed: `zstd:N` (pg_dump -Z0 through zstd -N, object
   * database.dump.zst), `gzip:N` (pg_dump's own zlib inside the custom format, database.dump) or
   * `none`. A bare digit N (the old form) still means gzip:N.
   */
  PG_DUMP_COMPRESSION: databaseCompressionSchema.optional(),
  /**
   * restore: a folder with room for one decoded copy of the dump. The dump is copied there (and
   * its sha256 checked) before pg_restore reads it as a file, which lets pg_restore run
   * RESTORE_JOBS jobs; the copy is removed afterwards, also on failure. Unset: pg_restore reads
   * the verified stream, one job, no local copy.
   */
  RESTORE_SCRATCH_DIR: z.string().optional(),
  /** restore: pg_restore --jobs (1-64); more than 1 needs RESTORE_SCRATCH_DIR. */
  RESTORE_JOBS: positiveInt("parallel pg_restore jobs")
    .refine((n) => n <= 64, { message: "must be at most 64 (parallel pg_restore jobs)" })
    .optional(),
  /** Folder holding pg_dump, pg_restore and psql; PATH is used when unset. */
  PG_BIN_DIR: z.string().optional(),
  /** Parts of one upload in flight at once (memory = part size x this, per stream). */
  S3_QUEUE_SIZE: positiveInt("parts in flight").optional(),
  /** Forces the multipart part size in MiB instead of deriving it from the stream's size estimate. */
  S3_PART_SIZE_MIB: positiveInt("MiB").optional(),
  /** Object Lock mode for the objects this run writes (the bucket must have Object Lock enabled). */
  OBJECT_LOCK_MODE: z.enum(OBJECT_LOCK_MODES, { message: "must be GOVERNANCE or COMPLIANCE" }).optional(),
  /** Days each object of this run stays locked (the tier's retention). */
  OBJECT_LOCK_DAYS: positiveInt("days").optional(),
  /** Retention in days per tier (RETENTION_DAYS_DAILY, ...), applied by `prune` to file:// destinations. */
  ...retentionShape,
  /** Tiers `status` expects fresh backups of (comma-separated); default DEFAULT_STATUS_TIERS. */
  STATUS_TIERS: z
    .string()
    .regex(commaList(TIER_NAME), {
      message: `must be a comma-separated list of tiers, e.g. ${DEFAULT_STATUS_TIERS.join(",")}`,
    })
    .optional(),
  /**
   * Each tier's schedule interval in hours (its longest gap between runs), e.g.
   * daily=24,weekly=168,monthly=744 (the defaults, SCHEDULE_INTERVAL_HOURS); the Pulumi program derives it from the CronJob schedules, so
   * `status` and the CloudWatch alarms judge staleness alike. Unlisted tiers use those defaults.
   */
  STATUS_INTERVAL_HOURS: z
    .string()
    .regex(commaList(`${TIER_NAME}=\\d+(\\.\\d+)?`), {
      message: `must list tier=hours pairs, e.g. ${formatIntervalHours(perTier(SCHEDULED_TIERS, (t) => SCHEDULE_INTERVAL_HOURS[t]!))}`,
    })
    .optional(),
  /**
   * When the stack was first deployed (stamped once at creation, never reset by a later `pulumi
   * up`). Shown by `status`; the first runs below are counted from it.
   */
  STACK_CREATED_AT: isoInstant.optional(),
  /**
   * The first scheduled run of each tier (and of the restore drill, `drill=`) after
   * STACK_CREATED_AT, e.g. daily=2026-01-11T18:00:00.000Z,weekly=2026-01-17T19:00:00.000Z. Until
   * that run plus the grace has passed, a tier that was never backed up is "pending", not missing,
   * for `status` and for the alarms alike. Unset: a tier without a backup is missing at once.
   */
  STATUS_FIRST_RUNS: z
    .string()
    .regex(commaList(`(${[...TIERS, "drill"].join("|")})=${ISO_INSTANT}`), {
      message: `must list name=instant pairs, e.g. ${SCHEDULED_TIERS[0]}=2026-01-11T18:00:00.000Z,drill=2026-01-17T22:00:00.000Z`,
    })
    .refine((v) => v.split(",").every((pair) => !Number.isNaN(Date.parse(pair.slice(pair.indexOf("=") + 1)))), {
      message: "every instant must be a real date and time",
    })
    .optional(),
  /**
   * `status` also watches the restore drill: the last drill must have passed and the last passing
   * drill be at most this many hours old (the stack sets 192, 8 days). Unset: drills not watched.
   */
  STATUS_DRILL_MAX_AGE_HOURS: positiveInt("hours").optional(),
  /** The tiers `drill --rotate` rotates through, week by week (default DEFAULT_DRILL_TIERS). */
  DRILL_TIERS: z
    .string()
    .regex(commaList(`(${SCHEDULED_TIERS.join("|")})`), {
      message: `must be a comma-separated list of scheduled tiers, e.g. ${DEFAULT_DRILL_TIERS.join(",")}`,
    })
    .optional(),
  /**
   * The drill of a store-format set whose media holds more than this (the manifest's
   * `media.sourceBytes`; bytes, or e.g. `50GiB`) restores a uniformly random sample of
   * DRILL_MEDIA_SAMPLE_FILES regular files instead of every file, after checking that every
   * object the set references exists with its recorded size (one listing of the store), and says
   * so in its report, record and mail. Unset: every drill restores every file. Tar sets are always
   * restored whole (one stream: a sample would read it all anyway).
   */
  DRILL_MEDIA_SAMPLE_ABOVE: byteSize("media size above which the drill samples").optional(),
  /** How many files a sampling drill restores (default DEFAULT_DRILL_SAMPLE_FILES, at most 100000). */
  DRILL_MEDIA_SAMPLE_FILES: positiveInt("files")
    .refine((n) => n <= 100_000, { message: "must be at most 100000 (files)" })
    .optional(),
  /** Hours past a tier's interval before `status` calls it stale (default DEFAULT_STATUS_GRACE_HOURS). */
  STATUS_GRACE_HOURS: positiveInt("hours").optional(),
  /**
   * Hours a restore keeps the database and media folder it replaced (renamed by the contract's
   * previous-copy pattern) so `undo-restore` can put them back; `cleanup` drops older ones.
   * Default 24; `restore --no-keep-previous` drops them at once.
   */
  KEEP_PREVIOUS_HOURS: positiveInt("hours").optional(),
  /** json (default) or pretty; pretty is chosen automatically on a terminal. */
  LOG_FORMAT: z.enum(["json", "pretty"], { message: "must be json or pretty" }).optional(),
  LOG_LEVEL: z.enum(["trace", "debug", "info", "warn", "error", "fatal"]).optional(),
  /** Seconds between progress lines during long streams. */
  PROGRESS_INTERVAL_SECONDS: positiveInt("seconds").optional(),
  /** healthchecks.io-style dead-man's switch: GET <url>/start, <url>, <url>/fail. */
  HEALTHCHECK_URL: z.string().url({ message: "must be an http(s) URL" }).optional(),
  /** JSON POST on success and failure (Slack-compatible `text` field included). */
  NOTIFY_WEBHOOK_URL: z.string().url({ message: "must be an http(s) URL" }).optional(),
  /**
   * age X25519 recipients (public keys, comma-separated) every object of a backup or import is
   * encrypted to. Public: a backup pod holding them can write sets but never read one.
   */
  ENCRYPTION_RECIPIENTS: z
    .string()
    .superRefine((value, ctx) => {
      if (value.trim() === "") {
        // Set but empty is a template or a secret that did not render: never read it as "no encryption".
        ctx.addIssue({
          code: "custom",
          message:
            "is set but empty, which would write the backup in plaintext; list the age recipients (age1...), or unset the variable for an unencrypted destination",
        });
        return;
      }
      for (const message of recipientProblems(value)) ctx.addIssue({ code: "custom", message });
    })
    .optional(),
  /**
   * backup and import without ENCRYPTION_RECIPIENTS into a destination whose newest set is
   * encrypted are refused (exit 2): a laptop run that forgot the recipients would store the
   * database in plaintext beside encrypted sets. `true` (flag --allow-plaintext) stores it anyway.
   */
  ALLOW_PLAINTEXT: bool.optional(),
  /** A file holding the age identity (private key) that restore, drill and verify decrypt with. */
  AGE_IDENTITY_FILE: z.string().optional(),
  /**
   * The age identity itself (AGE-SECRET-KEY-1...), e.g. from a secretKeyRef. A secret: redacted
   * like a password and never passed to child processes; prefer AGE_IDENTITY_FILE.
   */
  AGE_IDENTITY: z.string().optional(),
  /** CloudWatch namespace for metrics; no metrics are sent when unset. */
  CLOUDWATCH_NAMESPACE: z.string().min(1).optional(),
  /**
   * An SNS topic that receives one run summary per backup and drill, success or failure (the
   * stack's runSummary topic, mailed to its subscribers); nothing is published when unset.
   */
  RUN_SUMMARY_TOPIC_ARN: z
    .string()
    .regex(SNS_TOPIC_ARN, {
      message: "must be an SNS topic ARN such as arn:aws:sns:ap-southeast-1:123456789012:edms-runs",
    })
    .optional(),
  /** `exporter`: where /metrics is served, HOST:PORT or [IPv6]:PORT (default DEFAULT_EXPORTER_LISTEN). */
  EXPORTER_LISTEN: z
    .string()
    .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):[0-9]{1,5}$/, {
      message: "must be HOST:PORT, e.g. 0.0.0.0:9863 or [::]:9863",
    })
    .refine((v) => Number(v.slice(v.lastIndexOf(":") + 1)) <= 65535, { message: "port must be 0-65535" })
    .optional(),
  /** `exporter`: seconds between two readings of the destination (default DEFAULT_EXPORTER_REFRESH_SECONDS). */
  EXPORTER_REFRESH_SECONDS: positiveInt("seconds").optional(),
} as const;

/** Where `edms-backup exporter` listens by default (the stack's Service targets this port). */
export const DEFAULT_EXPORTER_PORT = 9863;
export const DEFAULT_EXPORTER_LISTEN = `0.0.0.0:${DEFAULT_EXPORTER_PORT}`;
/** A listing and a few manifest reads a minute: cheap on S3, fresh enough for alerts measured in hours. */
export const DEFAULT_EXPORTER_REFRESH_SECONDS = 60;

export type RunnerEnvName = keyof typeof runnerEnvShape;
/** What a CronJob (or anything else) may pass: raw strings keyed by the contract's names. */
export type RunnerEnv = Partial<Record<RunnerEnvName, string>>;

export const runnerEnvSchema = z.object(runnerEnvShape);
export type ParsedRunnerEnv = z.infer<typeof runnerEnvSchema>;

/** The value of STATUS_INTERVAL_HOURS for the given intervals (the Pulumi program writes it). */
export function formatIntervalHours(hours: Partial<Record<Tier, number>>): string {
  return TIERS.filter((t) => hours[t] !== undefined)
    .map((t) => `${t}=${Math.ceil(hours[t]! * 100) / 100}`)
    .join(",");
}

/**
 * Variables whose empty value is a mistake, not "unset": an empty ENCRYPTION_RECIPIENTS (a
 * template or a Secret that rendered nothing) would otherwise silently mean a plaintext backup.
 */
const EMPTY_IS_SET: ReadonlySet<RunnerEnvName> = new Set<RunnerEnvName>(["ENCRYPTION_RECIPIENTS"]);

/** Picks the contract's variables out of a process environment; empty strings count as unset (but see EMPTY_IS_SET). */
export function pickRunnerEnv(env: NodeJS.ProcessEnv): RunnerEnv {
  const picked: RunnerEnv = {};
  for (const name of Object.keys(runnerEnvShape) as RunnerEnvName[]) {
    const value = env[name];
    if (value !== undefined && (value !== "" || EMPTY_IS_SET.has(name))) picked[name] = value;
  }
  return picked;
}

/** libpq's sslmode values (libpq's default is prefer); the runner applies them as libpq does. */
export const SSL_MODES = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] as const;
export type SslMode = (typeof SSL_MODES)[number];

/**
 * Where the pods mount the database's CA bundle (stack config `database.caBundle`) and the file
 * name inside it; the ConfigMap points libpq's PGSSLROOTCERT at it, for pg_dump, pg_restore and
 * the runner's own sessions alike (runner/src/pg/libpq-tls.ts).
 */
export const DATABASE_CA_DIR = "/etc/edms-backup/database-ca";
export const DATABASE_CA_FILE = "root.crt";
export const DATABASE_CA_PATH = `${DATABASE_CA_DIR}/${DATABASE_CA_FILE}`;

/**
 * age recipients the backup may encrypt to: X25519 (`age1` + 58 bech32 characters). The
 * post-quantum `age1pq1...` kind is refused: Debian's age 1.1 (the image's, and the one operators
 * restore with by hand) cannot decrypt it.
 */
export const X25519_RECIPIENT = /^age1[02-9ac-hj-np-z]{58}$/;

/** Problems with a comma-separated ENCRYPTION_RECIPIENTS value, one per bad entry. */
export function recipientProblems(value: string): string[] {
  const entries = value.split(",").map((r) => r.trim());
  const problems: string[] = [];
  entries.forEach((r, i) => {
    if (r === "") problems.push(`entry ${i + 1} is empty`);
    else if (r.toLowerCase().startsWith("age1pq1"))
      problems.push(
        `${r.slice(0, 12)}... is a post-quantum recipient, which Debian's age 1.1 cannot decrypt; use an X25519 recipient (age-keygen)`,
      );
    else if (!X25519_RECIPIENT.test(r))
      problems.push(
        `"${r.length > 70 ? `${r.slice(0, 70)}...` : r}" is not an X25519 age recipient (age1 + 58 characters, from age-keygen -y)`,
      );
  });
  if (new Set(entries).size !== entries.length) problems.push("a recipient is listed twice");
  return problems;
}
