/**
 * The contract between whatever starts the runner (a Kubernetes CronJob, a shell, the demo) and the
 * runner itself: environment variable names, their meaning and their validation. It is the single
 * source of truth: the Pulumi components build CronJob environments typed by `RunnerEnv`, and the
 * runner parses its environment with `runnerEnvSchema`, so renaming a variable on one side fails the
 * type check on the other.
 *
 * This file must stay free of runtime dependencies other than zod: the Pulumi program imports it.
 */
import { z } from "zod";

export const TIERS = ["daily", "weekly", "monthly", "adhoc"] as const;
export type Tier = (typeof TIERS)[number];
/** Tiers that run on a schedule; `adhoc` only runs when an operator starts it. */
export const SCHEDULED_TIERS = ["daily", "weekly", "monthly"] as const satisfies readonly Tier[];
export type ScheduledTier = (typeof SCHEDULED_TIERS)[number];

/** The tiers `status` expects fresh backups of when STATUS_TIERS is unset: the scheduled ones. */
export const DEFAULT_STATUS_TIERS: readonly Tier[] = SCHEDULED_TIERS;
/**
 * Hours past a tier's schedule interval before `status` (STATUS_GRACE_HOURS unset) and the stack's
 * alarms (`alerts.graceHours` unset) call it stale: a run takes time, a node restarts.
 */
export const DEFAULT_STATUS_GRACE_HOURS = 6;

/**
 * Retention defaults, shared by the bucket's lifecycle rules (Pulumi) and `prune` (file://):
 * with the seed's schedules they keep at least 7 daily, 4 weekly and 12 monthly backups.
 */
export const DEFAULT_RETENTION_DAYS: Readonly<Record<Tier, number>> = { daily: 7, weekly: 28, monthly: 366, adhoc: 30 };

/**
 * Unfinished multipart uploads (a run killed mid-upload: OOM killer, a drain past the grace
 * period) older than this are abandoned: the bucket's lifecycle rule aborts them on AWS, and every
 * backup run aborts those under its prefix itself (S3-compatible stores without lifecycle rules).
 * A live upload is never this old: a backup Job's activeDeadlineSeconds defaults to 4 hours.
 */
export const UNFINISHED_UPLOAD_ABORT_DAYS = 1;

export const TRIGGERS = ["schedule", "manual"] as const;
export type Trigger = (typeof TRIGGERS)[number];

export const COMPRESSIONS = ["gzip", "zstd", "none"] as const;
export type Compression = (typeof COMPRESSIONS)[number];

/** How a set's media is written: one tar archive, or an index into the shared content store. */
export const MEDIA_FORMATS = ["tar", "store"] as const;
export type MediaFormat = (typeof MEDIA_FORMATS)[number];
export const DEFAULT_MEDIA_FORMAT: MediaFormat = "tar";

/**
 * The content store (MEDIA_FORMAT=store), under the destination's prefix beside the tier folders:
 * `store/objects/<2 hex>/<64 hex>[.age]`, one object per distinct file content (and per set of
 * recipients when encrypted), named by the keyed hash (MEDIA_STORE_KEY). Nothing in a set's
 * folder lives here, so tier lifecycle rules never expire content objects: `gc` frees them, with
 * an identity that may delete under STORE_OBJECTS_PREFIX and nowhere else.
 */
export const STORE_PREFIX = "store";
export const STORE_OBJECTS_PREFIX = `${STORE_PREFIX}/objects/`;
/** The runner command that deletes unreferenced content objects (its own CronJob and identity). */
export const STORE_GC_COMMAND = "gc";
/** The runner command the stack's deploy-check Job runs (components/schedule/deploy-check.ts). */
export const DEPLOY_CHECK_COMMAND = "check-deploy";
export const DEFAULT_STORE_GC_GRACE_HOURS = 48;
/**
 * What gc writes (and nothing else writes): its run records (`runs/`, read by status and the next
 * gc) and its leases (`leases/`, listed by backups before they write a manifest). The gc role may
 * put and read here; nobody may delete.
 */
export const STORE_GC_PREFIX = `${STORE_PREFIX}/gc/`;
/** A content object's key (relative to the destination) for its keyed name (64 hex digits). */
export function storeObjectKey(name: string, encrypted: boolean): string {
  return `${STORE_OBJECTS_PREFIX}${name.slice(0, 2)}/${name}${encrypted ? ".age" : ""}`;
}
/** Matches a content object's key; groups: name, and `.age` when encrypted. */
export const STORE_OBJECT_KEY_RE = /^store\/objects\/([0-9a-f]{2})\/(?<name>\1[0-9a-f]{62})(?<age>\.age)?$/;

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

/** DRILL_MEDIA_SAMPLE_FILES when unset: the files a sampling drill restores. */
export const DEFAULT_DRILL_SAMPLE_FILES = 1000;

/**
 * The database dump's compression. `gzip` is pg_dump's own (zlib inside the custom format, which
 * pg_restore reads itself); `zstd` is a stream stage after `pg_dump -Z0`, so the object is a zstd
 * frame around a plain custom-format dump (`zstd -d < database.dump.zst | pg_restore ...`) and
 * works with every pg_restore, unlike pg_dump 16's native `--compress=zstd`.
 */
export interface DatabaseCompression {
  method: Compression;
  /** gzip 1-9, zstd 1-19; 0 for none. */
  level: number;
}

export const DATABASE_COMPRESSION_LEVELS: Readonly<Record<Compression, readonly [number, number]>> = {
  gzip: [1, 9],
  zstd: [1, 19],
  none: [0, 0],
};

/** `zstd:1`, `gzip:6`, `none`; a bare digit (PG_DUMP_COMPRESSION's first form) is gzip at that level. */
export function parseDatabaseCompression(text: string): DatabaseCompression | { problem: string } {
  const problem = "must be zstd:N (N 1-19), gzip:N (N 1-9) or none";
  // "0" is the old form's "no compression" (pg_dump -Z0); "gzip:0" is outside gzip's 1-9 and
  // refused, so no spelling of a level quietly turns into another setting.
  if (text === "none" || text === "0") return { method: "none", level: 0 };
  if (/^[1-9]$/.test(text)) return { method: "gzip", level: Number(text) };
  const m = /^(gzip|zstd):(0|[1-9][0-9]?)$/.exec(text);
  if (!m) return { problem };
  const method = m[1] as Compression;
  const level = Number(m[2]);
  const [min, max] = DATABASE_COMPRESSION_LEVELS[method];
  if (level < min || level > max) return { problem };
  return { method, level };
}

export function formatDatabaseCompression(c: DatabaseCompression): string {
  return c.method === "none" ? "none" : `${c.method}:${c.level}`;
}

/** The compression applied to the dump as a stream stage (and named in its object name), if any. */
export function databaseStreamCompression(c: DatabaseCompression): Compression | undefined {
  return c.method === "zstd" ? "zstd" : undefined;
}

/** pg_dump's own --compress level for a spec: 0 when a stream stage compresses instead. */
export function pgDumpCompressLevel(c: DatabaseCompression): number {
  return c.method === "gzip" ? c.level : 0;
}

export const databaseCompressionSchema = z.string().transform((text, ctx) => {
  const parsed = parseDatabaseCompression(text);
  if ("problem" in parsed) {
    ctx.addIssue({ code: "custom", message: parsed.problem });
    return z.NEVER;
  }
  return parsed;
});

/** One column that holds media paths (a Django FileField/ImageField), as named in MEDIA_REFERENCES. */
export interface MediaReferenceColumn {
  /** Absent: the first schema of the search path that has the table. */
  schema?: string;
  table: string;
  column: string;
}

/**
 * Splits MEDIA_REFERENCES (`table.column` or `schema.table.column`, comma-separated) into columns.
 * A name with a dot, comma, quote or space is written in double quotes as in SQL (`"my.table".file`,
 * `""` for a quote inside); unquoted names are taken exactly as written (no case folding), since
 * they are looked up in the catalog as data, never pasted into SQL. Hand-written rather than a
 * SQL parser: the grammar is four rules and the errors must name the offending entry.
 */
export function parseMediaReferences(text: string): { columns: MediaReferenceColumn[]; problems: string[] } {
  const columns: MediaReferenceColumn[] = [];
  const problems: string[] = [];
  for (const raw of splitOutsideQuotes(text, ",")) {
    const entry = raw.trim();
    const names: string[] = [];
    let why: string | undefined;
    for (const part of splitOutsideQuotes(entry, ".")) {
      const name = unquoteName(part.trim());
      if (typeof name !== "string") why ??= name.problem;
      else if (name === "") why ??= "empty name";
      else if (name.includes("\0")) why ??= "a name cannot contain a NUL byte";
      else names.push(name);
    }
    if (!why && names.length !== 2 && names.length !== 3) why = `${names.length} name${names.length === 1 ? "" : "s"}`;
    if (why) {
      problems.push(`"${entry}": ${why} (write table.column or schema.table.column; quote names as in SQL)`);
      continue;
    }
    const [a, b, c] = names as [string, string, string?];
    columns.push(c === undefined ? { table: a, column: b } : { schema: a, table: b, column: c });
  }
  return { columns, problems };
}

/** Splits at `sep` except inside double quotes (where `""` is an escaped quote). */
function splitOutsideQuotes(text: string, sep: string): string[] {
  const out: string[] = [];
  let current = "";
  let quoted = false;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    if (ch === sep && !quoted) {
      out.push(current);
      current = "";
    } else current += ch;
  }
  out.push(current);
  return out;
}

/** `name` or `"na""me"` to the name; a problem for anything else (stray quotes, spaces). */
function unquoteName(part: string): string | { problem: string } {
  if (part.startsWith('"')) {
    if (part.length < 2 || !part.endsWith('"')) return { problem: "unterminated double quote" };
    const inner = part.slice(1, -1);
    if (inner.replace(/""/g, "").includes('"')) return { problem: "stray double quote" };
    return inner.replace(/""/g, '"');
  }
  if (/["\s]/.test(part)) return { problem: `${JSON.stringify(part)} needs double quotes` };
  return part;
}

/** A name as MEDIA_REFERENCES writes it: bare when it needs no quotes. */
export function quoteReferenceName(name: string): string {
  return /^[^.,"\s]+$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

/** The MEDIA_REFERENCES text for columns (what the Pulumi program writes, what logs show). */
export function formatMediaReferences(columns: readonly MediaReferenceColumn[]): string {
  return columns
    .map((c) =>
      [c.schema, c.table, c.column]
        .filter((n) => n !== undefined)
        .map(quoteReferenceName)
        .join("."),
    )
    .join(",");
}

/** MEDIA_REFERENCES as a zod schema: parses into columns, or names every bad entry. */
export const mediaReferencesSchema = z.string().transform((text, ctx) => {
  const { columns, problems } = parseMediaReferences(text);
  for (const problem of problems) ctx.addIssue({ code: "custom", message: problem });
  return columns;
});

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
   * unchanged files are stored once). Default: tar. Both are always read.
   */
  MEDIA_FORMAT: z.enum(MEDIA_FORMATS, { message: `must be one of ${MEDIA_FORMATS.join(", ")}` }).optional(),
  /**
   * The per-stack secret that names content objects (store format): an object's name is
   * HMAC-SHA256(key, content sha256 + how it is stored), so listing the bucket never reveals a
   * content hash (nobody without the key can test whether a known document is stored). At least
   * 32 characters (`openssl rand -hex 32`). A secret: redacted, never passed to child processes;
   * only backup pods need it (restore, verify and gc read object names from the index).
   * Prefer MEDIA_STORE_KEY_FILE. Changing it stops deduplication against older objects, nothing else.
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
  /** Retention in days per tier, applied by `prune` to file:// destinations. */
  RETENTION_DAYS_DAILY: positiveInt("days").optional(),
  RETENTION_DAYS_WEEKLY: positiveInt("days").optional(),
  RETENTION_DAYS_MONTHLY: positiveInt("days").optional(),
  RETENTION_DAYS_ADHOC: positiveInt("days").optional(),
  /** Tiers `status` expects fresh backups of (comma-separated); default daily,weekly,monthly. */
  STATUS_TIERS: z
    .string()
    .regex(commaList(TIER_NAME), {
      message: "must be a comma-separated list of tiers, e.g. daily,weekly",
    })
    .optional(),
  /**
   * Each tier's schedule interval in hours (its longest gap between runs), e.g.
   * daily=24,weekly=168,monthly=744; the Pulumi program derives it from the CronJob schedules, so
   * `status` and the CloudWatch alarms judge staleness alike. Unlisted tiers use those defaults.
   */
  STATUS_INTERVAL_HOURS: z
    .string()
    .regex(commaList(`${TIER_NAME}=\\d+(\\.\\d+)?`), {
      message: "must list tier=hours pairs, e.g. daily=24,weekly=168,monthly=744",
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
      message: "must list name=instant pairs, e.g. daily=2026-01-11T18:00:00.000Z,drill=2026-01-17T22:00:00.000Z",
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
  /** The tiers `drill --rotate` rotates through, week by week (default daily,weekly,monthly). */
  DRILL_TIERS: z
    .string()
    .regex(commaList(`(${SCHEDULED_TIERS.join("|")})`), {
      message: "must be a comma-separated list of scheduled tiers, e.g. daily,weekly,monthly",
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
 * The manifest format this runner writes. Formats 1 and 2 are still read: every set written since
 * the first release keeps restoring. Format 2 adds `encryption`, plain table/row counts, and keeps
 * table names out of the plain manifest when the set is encrypted. Format 3 adds the dump's
 * `compression` (a zstd dump must be decompressed before pg_restore, which a format-2 reader
 * would not know) and `pgRestoreMin`; a runner that reads only 1 and 2 refuses it by name.
 */
export const MANIFEST_FORMAT_VERSION = 3;
/**
 * Format 4: a set whose media is in the content store (`media.format: "store"`, an index instead
 * of an archive). Written only for such sets, so a tar set stays format 3 and every runner that
 * reads format 3 keeps reading it; one that reads only 1-3 refuses a store set by name instead of
 * handing an index to tar.
 */
export const STORE_MANIFEST_FORMAT_VERSION = 4;
export const READABLE_MANIFEST_FORMATS = [1, 2, 3, 4] as const;

/** The kinds of object inside one backup set. */
export type ObjectKind = "database" | "media" | "index" | "objects" | "names" | "manifest";

/** What was done to an object's bytes on their way into the store, in order. */
export interface ObjectTransforms {
  /** The compression of the object's content (media: tar's compressor; database: a stream stage). */
  compression?: Compression;
  /** Encrypted with age for the set's recipients (a `.age` suffix). */
  encrypted?: boolean;
}

const BASE_NAME: Record<ObjectKind, string> = {
  database: "database.dump",
  media: "storage.tar",
  /** The store format's media index: JSON lines, one per entry (docs/MANIFEST.md). */
  index: "media-index.jsonl",
  /**
   * The store format's object list: the content objects the set references, one key a line, plain
   * even in an encrypted set (the keys are what a listing shows anyway), so gc needs no secret.
   */
  objects: "media-objects.txt",
  names: "names.json",
  manifest: "manifest.json",
};
const COMPRESSION_SUFFIX: Record<Compression, string> = { gzip: ".gz", zstd: ".zst", none: "" };

/**
 * The one place object names are made: the kind's base name, then one suffix per transform in
 * the order they were applied (compression, then encryption), so a name says how to read it back
 * by hand: `database.dump.age` is `age -d | pg_restore`, `storage.tar.zst.age` is
 * `age -d | zstd -d | tar -x`. The manifest itself is never transformed (it is the set's index).
 */
export function objectName(kind: ObjectKind, transforms: ObjectTransforms = {}): string {
  if (kind === "manifest") return BASE_NAME.manifest;
  const compression = transforms.compression ? COMPRESSION_SUFFIX[transforms.compression] : "";
  return `${BASE_NAME[kind]}${compression}${transforms.encrypted ? ".age" : ""}`;
}

export const MANIFEST_OBJECT = objectName("manifest");

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

/**
 * Names the runner gives to what it creates beside or inside a media folder and beside a
 * database: staging copies (a restore or drill still being written) and previous copies (what a
 * restore replaced, kept until its commit; the undo feature keeps them longer). Defined once here
 * so backups exclude exactly these names from the archive, the sweep of stale staging copies
 * touches nothing else, and `status` lists what remains.
 *
 * A run id is a backup-id-shaped stamp, `20261127T114200Z-3f9a2c`: it sorts by time and tells
 * when the run started. Folders: `.edms-staging-<runId>` inside a folder (a mount point, a drill's
 * scratch parent), `.<base>.edms-staging-<runId>` beside the folder `<base>`; previous copies the
 * same with `edms-previous`. Databases: `<db>__edms_staging_<runId>`, `<db>__edms_previous_<runId>`
 * (`<db>` shortened so the name fits PostgreSQL's 63 bytes).
 */
export const RUN_ID_PATTERN = "[0-9]{8}T[0-9]{6}Z-[0-9a-f]{6}";
export const STAGING_MARK = "edms-staging";
export const PREVIOUS_MARK = "edms-previous";
export type CopyKind = "staging" | "previous";
const MARKS: Record<CopyKind, string> = { staging: STAGING_MARK, previous: PREVIOUS_MARK };

/** `.edms-staging-<runId>` (inside a folder) or `.<base>.edms-staging-<runId>` (beside `base`). */
export function copyFolderName(kind: CopyKind, runId: string, besideBase?: string): string {
  return `${besideBase === undefined ? "" : `.${besideBase}`}.${MARKS[kind]}-${runId}`;
}

/** Matches folder names of `kind`; groups: base (beside only, else undefined) and runId. */
export const COPY_FOLDER_RE: Readonly<Record<CopyKind, RegExp>> = {
  staging: new RegExp(`^(?:\\.(?<base>.+))?\\.${STAGING_MARK}-(?<runId>${RUN_ID_PATTERN})$`, "s"),
  previous: new RegExp(`^(?:\\.(?<base>.+))?\\.${PREVIOUS_MARK}-(?<runId>${RUN_ID_PATTERN})$`, "s"),
};

/** `<db>__edms_staging_<runId>`, with `<db>` cut (at a character boundary) to fit 63 bytes. */
export function copyDatabaseName(kind: CopyKind, database: string, runId: string): string {
  const suffix = `__${MARKS[kind].replace("-", "_")}_${runId}`;
  let base = database;
  while (new TextEncoder().encode(base + suffix).length > 63) base = Array.from(base).slice(0, -1).join("");
  return `${base}${suffix}`;
}

/** Matches database names of `kind`; groups: base (possibly shortened) and runId. */
export const COPY_DATABASE_RE: Readonly<Record<CopyKind, RegExp>> = {
  staging: new RegExp(`^(?<base>.*)__edms_staging_(?<runId>${RUN_ID_PATTERN})$`, "s"),
  previous: new RegExp(`^(?<base>.*)__edms_previous_(?<runId>${RUN_ID_PATTERN})$`, "s"),
};

/** A run's holder file beside each folder it creates (restore/run-copies.ts): `<folder>.holder`. */
export const COPY_HOLDER_SUFFIX = ".holder";

/** RUN_ID_PATTERN as a tar (fnmatch) glob: every character class spelled out, no `*`. */
const RUN_ID_GLOB = `${"[0-9]".repeat(8)}T${"[0-9]".repeat(6)}Z-${"[0-9a-f]".repeat(6)}`;

/** Exactly the names the runner gives its own copies inside a folder, and their holder files. */
const OWN_COPY_RE = new RegExp(
  `^\\.(${STAGING_MARK}|${PREVIOUS_MARK})-${RUN_ID_PATTERN}(${COPY_HOLDER_SUFFIX.replace(".", "\\.")})?$`,
);

/**
 * GNU tar options that keep the runner's own copies inside a media folder (a staging or previous
 * copy when the folder is a mount point, and their holder files) out of its archive: recognised
 * exactly (mark, run id, optional holder suffix), so a user's `.edms-previous-notes.txt` is
 * archived. Anchored at the archive's top level (`./`): a similar name deeper in the tree is too.
 */
export const ARCHIVE_EXCLUDE_ARGS: readonly string[] = [
  "--anchored",
  ...[STAGING_MARK, PREVIOUS_MARK].flatMap((mark) => [
    `--exclude=./.${mark}-${RUN_ID_GLOB}`,
    `--exclude=./.${mark}-${RUN_ID_GLOB}${COPY_HOLDER_SUFFIX}`,
  ]),
  "--no-anchored",
];

/** The same exclusion for a walk of the media folder: a top-level name (bytes) tar leaves out. */
export function excludedFromArchive(topLevelName: Uint8Array): boolean {
  if (topLevelName.length > 64) return false;
  return OWN_COPY_RE.test(String.fromCharCode(...topLevelName));
}

/**
 * A top-level name that looks like one of the runner's (`.edms-...`) but is not exactly one: it is
 * archived like any other file, and the backup says so, since an older runner left it out.
 */
export function looksLikeRunnerCopy(topLevelName: Uint8Array): boolean {
  return !excludedFromArchive(topLevelName) && String.fromCharCode(...topLevelName.subarray(0, 6)) === ".edms-";
}

/** Databases a restore never replaces: the server's templates (CREATE DATABASE copies them). */
export const PROTECTED_DATABASES = ["template0", "template1"] as const;

/** Hours a restore keeps what it replaced when KEEP_PREVIOUS_HOURS is unset. */
export const DEFAULT_KEEP_PREVIOUS_HOURS = 24;

/**
 * Marker objects under `<prefix>/restores/`: a restore (or undo) that keeps previous copies writes
 * `<runId>.kept.json` with what it kept and their row counts and file tally; `cleanup` (or an
 * undo that put them back) writes `<runId>.released.json` (`.released.database.json` or
 * `.released.media.json` for one half). The runner cannot delete objects, so a
 * second marker closes the first; `status` reads them where it cannot see the database or media.
 */
export const RESTORE_MARKERS_PREFIX = "restores";
export function keptMarkerKey(runId: string): string {
  return `${RESTORE_MARKERS_PREFIX}/${runId}.kept.json`;
}
/** `part`: only that half of the record was released (a `--database-only` or `--media-only` undo). */
export function releasedMarkerKey(runId: string, part?: "database" | "media"): string {
  return `${RESTORE_MARKERS_PREFIX}/${runId}.released${part ? `.${part}` : ""}.json`;
}
/**
 * `<undo run id>.undo.json`, written by `undo-restore` before its first rename: which copies it
 * swaps and under which names, so a rerun after any interruption (SIGKILL included) can finish the
 * swap and `status` can say one is unfinished. It is finished once `<undo run id>.kept.json` (the
 * swap completed) or `.released.json` (it was rolled back) exists.
 */
/**
 * `<run id>.fingerprints.json`, written with the kept marker: per-table row counts of the database
 * and per-entry size, inode, mtime and ctime of the folder the run swapped in (to tell, at undo,
 * whether they changed since), and the same per entry for the kept folder (to verify it).
 */
export function fingerprintsKey(runId: string): string {
  return `${RESTORE_MARKERS_PREFIX}/${runId}.fingerprints.json`;
}
export function undoJournalKey(runId: string): string {
  return `${RESTORE_MARKERS_PREFIX}/${runId}.undo.json`;
}
