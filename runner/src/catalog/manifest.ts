/**
 * The manifest is a backup set's commit marker: it is written last, only after every object is
 * stored and every child process exited 0. Its schema is checked on write and on read, so a
 * hand-edited or truncated manifest is reported, never trusted. It never holds a secret.
 *
 * Format 3 (written now) records the dump's compression and the oldest pg_restore that reads it.
 * Format 2 records plain table and row counts beside the per-table list, and
 * `encryption` when the set is encrypted: then the per-table list (names) is not in the plain
 * manifest but in the encrypted names member (see names.ts), so a bucket reader learns sizes and
 * counts, never a table name. Format 1 sets are read and normalised into the same shape; format 2
 * is read as it is (its dump is always pg_dump's own compression).
 */
import { z } from "zod";
import {
  CHUNK_GENERATION_RE,
  COMPRESSIONS,
  MANIFEST_FORMAT_VERSION,
  READABLE_MANIFEST_FORMATS,
  STORE_MANIFEST_FORMAT_VERSION,
  TIERS,
  TRIGGERS,
} from "../contract.js";
import { MAX_MISSING_PATHS } from "../references/media-paths.js";
import { databasePropertiesSchema } from "../pg/database-properties.js";
import { definerSchema } from "../pg/owners.js";
import { roleSchema } from "../pg/globals.js";

export { MANIFEST_FORMAT_VERSION, STORE_MANIFEST_FORMAT_VERSION };

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, { message: "must be a hex sha256" });
const bytes = z.number().int().nonnegative();
const count = z.number().int().nonnegative();

export const tableRowCountSchema = z.object({
  schema: z.string(),
  table: z.string(),
  rows: count,
});
export type TableRowCount = z.infer<typeof tableRowCountSchema>;

/** An object of the set as stored: its name in the set, and the size and sha256 of the stored bytes. */
export const storedObjectSchema = z.object({ key: z.string().min(1), bytes, sha256 });
export type StoredObjectEntry = z.infer<typeof storedObjectSchema>;

const databaseCommon = {
  /** Object name inside the backup set. */
  key: z.string().min(1),
  /** Size and sha256 of the stored bytes (the ciphertext, when encrypted). */
  bytes,
  sha256,
  format: z.literal("custom"),
  /**
   * How the dump was compressed (format 3): `zstd:N` (the object is a zstd frame around a plain
   * custom-format dump: `zstd -d | pg_restore`), `gzip:N` (pg_dump's own zlib, inside the
   * format), `gzip` (pg_dump's own at a level not recorded: imported archives) or `none`. Absent
   * from format 1 and 2 sets, which were always pg_dump's own compression.
   */
  compression: z
    .string()
    .regex(/^(none|gzip(:[1-9])?|zstd:([1-9]|1[0-9]))$/, { message: "must be none, gzip[:N] or zstd:N" })
    .optional(),
  /** The oldest pg_restore major version that reads the dump (format 3; absent when unknown). */
  pgRestoreMin: z.number().int().positive().optional(),
  name: z.string(),
  pgDumpVersion: z.string(),
  serverVersion: z.string(),
};

export const databaseEntrySchema = z.object({
  ...databaseCommon,
  /** Tables counted in the snapshot pg_dump read, and the sum of their rows (always plain). */
  tableCount: count,
  rowCount: count,
  /**
   * "only": each table's own rows (SELECT count(*) FROM ONLY t), as pg_dump's data for it holds.
   * Absent (earlier runners): an inheritance parent's count included its children's rows.
   */
  rowCounting: z.literal("only").optional(),
  /** How many warnings pg_dump printed (always plain); absent from sets of earlier runners. */
  warningCount: count.optional(),
  /** Their text (in the names member of an encrypted set: a warning may name an object). */
  warnings: z.array(z.string()).optional(),
  /** The roles owning the database's objects (pg_shdepend), so a restore can keep them. Named. */
  owners: z.array(z.string()).optional(),
  /** SECURITY DEFINER functions and their owners. Named. */
  definers: z.array(definerSchema).optional(),
  /** The database's own properties (owner, settings, ACL, comment); see database-properties.ts. Named. */
  properties: databasePropertiesSchema.optional(),
  /** The roles the dump needs (attributes and memberships, never a password); see pg/globals.ts. Named. */
  roles: z.array(roleSchema).optional(),
  /** The tablespaces its objects live in (other than the default ones). Named. */
  tablespaces: z.array(z.string()).optional(),
  /**
   * Row counts per table, taken in the same snapshot that pg_dump exported. Absent from the plain
   * manifest of an encrypted set (names are in the encrypted names member).
   */
  tables: z.array(tableRowCountSchema).optional(),
  /**
   * Django's latest applied migration per app (django_migrations), when the table exists. In the
   * names member, not the plain manifest, of an encrypted set.
   */
  migrations: z.record(z.string(), z.string()).optional(),
});
export type DatabaseEntry = z.infer<typeof databaseEntrySchema>;

/**
 * What the configured reference columns (MEDIA_REFERENCES) point at, compared with the archive:
 * values read in the dump's snapshot, names compared as bytes after stripping leading `./` and `/`.
 * The names (columns, missing paths) are absent from an encrypted set's plain manifest.
 */
export const mediaReferencesEntrySchema = z.object({
  /** The columns read, schema-qualified, as MEDIA_REFERENCES writes them. */
  columns: z.array(z.string()).min(1).optional(),
  /** Distinct non-empty paths in those columns. */
  referenced: count,
  /** Referenced paths that are not a regular file in the archive. */
  missing: count,
  /** The first 100 missing paths in byte order (see references/media-paths.ts). */
  missingPaths: z.array(z.string()).max(MAX_MISSING_PATHS).optional(),
  /** Regular files in the archive that no referenced path names. */
  unreferenced: count,
});
export type MediaReferencesEntry = z.infer<typeof mediaReferencesEntrySchema>;

export const mediaEntrySchema = z.object({
  key: z.string().min(1),
  bytes,
  sha256,
  compression: z.enum(COMPRESSIONS),
  /** Regular files in the archive and the sum of their sizes, as tar reported them. */
  files: count,
  sourceBytes: bytes,
  /** Present when the backup checked reference columns (MEDIA_REFERENCES). */
  references: mediaReferencesEntrySchema.optional(),
  /**
   * Format 4: `store` when `key` is the set's media index (zstd JSON lines, see docs/MANIFEST.md)
   * and the contents are content objects under store/objects/; absent for a tar archive.
   */
  format: z.literal("store").optional(),
  /**
   * Store format: `segments` when `key` is the set's segment list (`media-segments.txt`: the index,
   * stat cache and object list as chunks in the store, docs/MANIFEST.md "Segments"); absent when
   * `key` is the whole index beside `media-objects.txt` and `media-stat-cache.sealed`.
   */
  layout: z.literal("segments").optional(),
  /** Store format: distinct content objects the index references, and how many this run uploaded. */
  store: z
    .object({
      objects: count,
      /** Their stored bytes (absent in sets written before it was recorded). */
      objectBytes: bytes.optional(),
      uploadedObjects: count,
      uploadedBytes: bytes,
      reusedObjects: count,
      /** Files the previous set's stat cache showed unchanged (size, mtime, ctime, inode): not read. */
      unchangedFiles: count.optional(),
      /**
       * Under Object Lock: reused objects whose retention was read from the store, and of those the
       * ones extended to this set's date (absent without Object Lock).
       */
      lockCheckedObjects: count.optional(),
      lockExtendedObjects: count.optional(),
      /**
       * Layout "segments": how many segments, the set's distinct metadata chunks and their stored
       * bytes (`status` adds them to the newest set's), and the chunks this run uploaded.
       */
      segments: count.optional(),
      chunks: count.optional(),
      chunkBytes: bytes.optional(),
      uploadedChunks: count.optional(),
      uploadedChunkBytes: bytes.optional(),
      /** Layout "segments": the chunk names' generation (contract/object-names.ts); absent: the first one. */
      chunkGeneration: z.string().regex(CHUNK_GENERATION_RE).optional(),
    })
    .optional(),
  /**
   * Store format: the set's object list (`media-objects.txt`, the content object keys the index
   * references, plain even when encrypted), its stored size and sha256. gc marks from it. Absent
   * from store sets of earlier runners (gc then reads their index; see docs/MANIFEST.md).
   */
  objectList: storedObjectSchema.optional(),
  /**
   * Present when MEDIA_REFERENCES was set but the check could not run (a configured column is
   * gone, not text, or not readable): the set is complete, only the check is missing.
   */
  referencesNotRun: z.object({ reason: z.string().min(1) }).optional(),
});
export type MediaEntry = z.infer<typeof mediaEntrySchema>;

export const encryptionSchema = z.object({
  format: z.literal("age"),
  /** The X25519 recipients every object was encrypted to (any one identity restores). */
  recipients: z.array(z.string().min(1)).min(1),
  /** The encrypted member holding what the plain manifest leaves out (table names). */
  names: storedObjectSchema,
});

const header = {
  backupId: z.string().min(1),
  tier: z.enum(TIERS),
  trigger: z.enum(TRIGGERS),
  startedAt: z.iso.datetime(),
  finishedAt: z.iso.datetime(),
  runnerVersion: z.string(),
  appName: z.string().optional(),
  appVersion: z.string().optional(),
  /** Where the set came from when it was imported from a legacy archive. */
  importedFrom: z.string().optional(),
};

export const manifestSchema = z
  .object({
    // Format 2 is format 3 without the dump's compression, so one schema reads both.
    formatVersion: z.union([
      z.literal(2),
      z.literal(MANIFEST_FORMAT_VERSION),
      z.literal(STORE_MANIFEST_FORMAT_VERSION),
    ]),
    ...header,
    encryption: encryptionSchema.optional(),
    database: databaseEntrySchema.nullable(),
    media: mediaEntrySchema.nullable(),
  })
  .superRefine((m, ctx) => {
    const tables = m.database?.tables;
    const refs = m.media?.references;
    // Names of tables, migrations, columns and files: in the names member when encrypted.
    const named: Array<[string[], unknown]> = [
      [["database", "tables"], tables],
      [["database", "migrations"], m.database?.migrations],
      [["database", "warnings"], m.database?.warnings],
      [["database", "owners"], m.database?.owners],
      [["database", "definers"], m.database?.definers],
      [["database", "properties"], m.database?.properties],
      [["database", "roles"], m.database?.roles],
      [["database", "tablespaces"], m.database?.tablespaces],
      [["media", "references", "columns"], refs?.columns],
      [["media", "references", "missingPaths"], refs?.missingPaths],
    ];
    if (m.encryption)
      for (const [path, value] of named)
        if (value !== undefined)
          ctx.addIssue({ code: "custom", path, message: "an encrypted set keeps names out of the plain manifest" });
    if (!m.encryption && refs && (!refs.columns || !refs.missingPaths))
      ctx.addIssue({
        code: "custom",
        path: ["media", "references"],
        message: "needs columns and missingPaths (the set is not encrypted)",
      });
    if ((m.media?.format === "store") !== (m.formatVersion === STORE_MANIFEST_FORMAT_VERSION))
      ctx.addIssue({
        code: "custom",
        path: ["formatVersion"],
        message: `format ${STORE_MANIFEST_FORMAT_VERSION} is exactly the sets whose media is in the store (media.format "store")`,
      });
    if (m.media?.layout && m.media.format !== "store")
      ctx.addIssue({ code: "custom", path: ["media", "layout"], message: 'goes with media.format "store"' });
    if (m.media?.objectList && m.media.format !== "store")
      ctx.addIssue({ code: "custom", path: ["media", "objectList"], message: 'goes with media.format "store"' });
    if ((m.media?.format === "store") !== (m.media?.store !== undefined))
      ctx.addIssue({ code: "custom", path: ["media", "store"], message: 'goes with media.format "store"' });
    if (m.formatVersion >= MANIFEST_FORMAT_VERSION && m.database && m.database.compression === undefined)
      ctx.addIssue({ code: "custom", path: ["database", "compression"], message: "required in format 3" });
    if (!m.encryption && m.database && !tables)
      ctx.addIssue({ code: "custom", path: ["database", "tables"], message: "required (the set is not encrypted)" });
    if (tables && m.database && tables.length !== m.database.tableCount)
      ctx.addIssue({
        code: "custom",
        path: ["database", "tableCount"],
        message: `says ${m.database.tableCount}, the list has ${tables.length}`,
      });
  });
/** A manifest as read (format 1 normalised) or about to be written (format 3). */
export type Manifest = Omit<z.infer<typeof manifestSchema>, "formatVersion"> & {
  formatVersion: (typeof READABLE_MANIFEST_FORMATS)[number];
};

/** Format 1: no encryption, the table list always present, no separate counts. */
const manifestV1Schema = z.object({
  formatVersion: z.literal(1),
  ...header,
  database: z
    .object({
      ...databaseCommon,
      tables: z.array(tableRowCountSchema),
      migrations: z.record(z.string(), z.string()).optional(),
    })
    .nullable(),
  media: mediaEntrySchema.nullable(),
});

function fromV1(m: z.infer<typeof manifestV1Schema>): Manifest {
  return {
    ...m,
    database: m.database && {
      ...m.database,
      tableCount: m.database.tables.length,
      rowCount: m.database.tables.reduce((s, t) => s + t.rows, 0),
    },
  };
}

/** The compression applied to a dump as a stream stage (zstd), which a reader must undo before pg_restore. */
export function dumpStreamCompression(entry: Pick<DatabaseEntry, "compression">): "zstd" | undefined {
  return entry.compression?.startsWith("zstd:") ? "zstd" : undefined;
}

export function serializeManifest(manifest: Manifest): string {
  return `${JSON.stringify(manifestSchema.parse(manifest), null, 2)}\n`;
}

export function parseManifest(text: string, where: string): Manifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new Error(`manifest ${where} is not valid JSON (${(error as Error).message})`);
  }
  const version = (raw as { formatVersion?: unknown } | null)?.formatVersion;
  if (!(READABLE_MANIFEST_FORMATS as readonly unknown[]).includes(version)) {
    throw new Error(
      `manifest ${where} has format ${JSON.stringify(version)}; this runner reads formats ${READABLE_MANIFEST_FORMATS.join(" and ")} (a newer runner wrote it?)`,
    );
  }
  const parsed = version === 1 ? manifestV1Schema.safeParse(raw) : manifestSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new Error(`manifest ${where} does not match format ${String(version)}: ${problems.join("; ")}`);
  }
  if (version === 1) return fromV1(parsed.data as z.infer<typeof manifestV1Schema>);
  return parsed.data as Manifest;
}
