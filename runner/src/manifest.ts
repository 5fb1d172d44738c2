/**
 * The manifest is a backup set's commit marker: it is written last, only after every object is
 * stored and every child process exited 0. Its schema is checked on write and on read, so a
 * hand-edited or truncated manifest is reported, never trusted. It never holds a secret.
 */
import { z } from "zod";
import { COMPRESSIONS, TIERS, TRIGGERS } from "./contract.js";
import { MAX_MISSING_PATHS } from "./references/media-paths.js";

export const MANIFEST_FORMAT_VERSION = 1;

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, { message: "must be a hex sha256" });
const bytes = z.number().int().nonnegative();

export const tableRowCountSchema = z.object({
  schema: z.string(),
  table: z.string(),
  rows: z.number().int().nonnegative(),
});
export type TableRowCount = z.infer<typeof tableRowCountSchema>;

export const databaseEntrySchema = z.object({
  /** Object name inside the backup set. */
  key: z.string().min(1),
  bytes,
  sha256,
  format: z.literal("custom"),
  name: z.string(),
  pgDumpVersion: z.string(),
  serverVersion: z.string(),
  /** Row counts taken in the same snapshot that pg_dump exported. */
  tables: z.array(tableRowCountSchema),
  /** Django's latest applied migration per app (django_migrations), when the table exists. */
  migrations: z.record(z.string(), z.string()).optional(),
});
export type DatabaseEntry = z.infer<typeof databaseEntrySchema>;

const count = z.number().int().nonnegative();

/**
 * What the configured reference columns (MEDIA_REFERENCES) point at, compared with the archive:
 * values read in the dump's snapshot, names compared as bytes after stripping leading `./` and `/`.
 */
export const mediaReferencesEntrySchema = z.object({
  /** The columns read, schema-qualified, as MEDIA_REFERENCES writes them. */
  columns: z.array(z.string()).min(1),
  /** Distinct non-empty paths in those columns. */
  referenced: count,
  /** Referenced paths that are not a regular file in the archive. */
  missing: count,
  /** The first 100 missing paths in byte order (see references/media-paths.ts). */
  missingPaths: z.array(z.string()).max(MAX_MISSING_PATHS),
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
  files: z.number().int().nonnegative(),
  sourceBytes: bytes,
  /** Present when the backup checked reference columns (MEDIA_REFERENCES). */
  references: mediaReferencesEntrySchema.optional(),
});
export type MediaEntry = z.infer<typeof mediaEntrySchema>;

export const manifestSchema = z.object({
  formatVersion: z.literal(MANIFEST_FORMAT_VERSION),
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
  database: databaseEntrySchema.nullable(),
  media: mediaEntrySchema.nullable(),
});
export type Manifest = z.infer<typeof manifestSchema>;

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
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new Error(`manifest ${where} does not match format ${MANIFEST_FORMAT_VERSION}: ${problems.join("; ")}`);
  }
  return parsed.data;
}
