/**
 * What a backup's manifest says, from what the run stored and read: a pure function (no store, no
 * clock, no database), so what a manifest holds for given inputs is tested on its own
 * (test/runner/backup-manifest.test.ts). The run writes it last (commit-set.ts).
 */
import {
  formatDatabaseCompression,
  type Compression,
  type DatabaseCompression,
  type Tier,
  type Trigger,
} from "../contract.js";
import { majorOf } from "../pg/versions.js";
import { RUNNER_VERSION } from "../version.js";
import {
  MANIFEST_FORMAT_VERSION,
  STORE_MANIFEST_FORMAT_VERSION,
  type DatabaseEntry,
  type Manifest,
  type MediaEntry,
  type MediaReferencesEntry,
  type StoredObjectEntry,
  type TableRowCount,
} from "./manifest.js";

/** The dump as stored (its key inside the set), and what was read in the snapshot pg_dump read. */
export interface DumpFacts {
  stored: StoredObjectEntry;
  compression: DatabaseCompression;
  /** The database's name. */
  name: string;
  pgDumpVersion: string;
  serverVersion: string;
  tables: TableRowCount[];
  /** What pg_dump printed although it exited 0. */
  warnings: string[];
  /** Who owns what and the database's own properties (absent when they were not read). */
  owned?: Pick<DatabaseEntry, "owners" | "definers" | "roles" | "tablespaces" | "properties">;
  migrations: DatabaseEntry["migrations"] | null;
}

/** The media part as stored (a tar archive, or the store format's index), and what was counted. */
export interface MediaFacts {
  stored: StoredObjectEntry;
  compression: Compression;
  /** Regular files and their bytes, as the archive listed them. */
  tally: { files: number; sourceBytes: number };
  /** Store format: what the run stored (its metadata in segments). Absent: a tar archive. */
  store?: { stats: NonNullable<MediaEntry["store"]> };
  references?: MediaReferencesEntry;
  /** Why the configured reference check did not run. */
  referencesNotRun?: string;
}

export interface BackupFacts {
  backupId: string;
  tier: Tier;
  trigger: Trigger;
  startedAt: Date;
  finishedAt: Date;
  appName: string;
  appVersion?: string;
  database: DumpFacts | null;
  media: MediaFacts | null;
}

/** The plain manifest of a backup set (before encryption takes the names out: commit-set.ts). */
export function buildBackupManifest(facts: BackupFacts): Manifest {
  const { database: db, media } = facts;
  return {
    formatVersion: media?.store ? STORE_MANIFEST_FORMAT_VERSION : MANIFEST_FORMAT_VERSION,
    backupId: facts.backupId,
    tier: facts.tier,
    trigger: facts.trigger,
    startedAt: facts.startedAt.toISOString(),
    finishedAt: facts.finishedAt.toISOString(),
    runnerVersion: RUNNER_VERSION,
    appName: facts.appName,
    appVersion: facts.appVersion,
    database: db
      ? {
          key: db.stored.key,
          bytes: db.stored.bytes,
          sha256: db.stored.sha256,
          format: "custom",
          compression: formatDatabaseCompression(db.compression),
          // pg_restore reads archives of its own major version and older.
          pgRestoreMin: majorOf(db.pgDumpVersion),
          name: db.name,
          pgDumpVersion: db.pgDumpVersion,
          serverVersion: db.serverVersion,
          tableCount: db.tables.length,
          rowCount: db.tables.reduce((s, t) => s + t.rows, 0),
          rowCounting: "only",
          tables: db.tables,
          warningCount: db.warnings.length,
          ...(db.warnings.length ? { warnings: db.warnings } : {}),
          ...(db.owned && {
            owners: db.owned.owners,
            definers: db.owned.definers,
            roles: db.owned.roles,
            tablespaces: db.owned.tablespaces,
          }),
          ...(db.owned?.properties && { properties: db.owned.properties }),
          ...(db.migrations ? { migrations: db.migrations } : {}),
        }
      : null,
    media: media
      ? {
          key: media.stored.key,
          bytes: media.stored.bytes,
          sha256: media.stored.sha256,
          compression: media.compression,
          ...(media.store
            ? { format: "store" as const, layout: "segments" as const, store: { ...media.store.stats } }
            : {}),
          files: media.tally.files,
          sourceBytes: media.tally.sourceBytes,
          ...(media.references ? { references: media.references } : {}),
          ...(media.referencesNotRun ? { referencesNotRun: { reason: media.referencesNotRun } } : {}),
        }
      : null,
  };
}
