/**
 * The backup's streams, started and awaited as one group: pg_dump (with the reads taken in its
 * snapshot) and the media (a tar archive, or the store format's writer). The first failure or
 * signal cancels every stream, and is the reason the run reports.
 */
import { isComplete, listBackupSets, setKey, type CompleteBackupSet } from "../catalog/catalog.js";
import { REHASH_TIERS, TIERS, type Compression } from "../contract.js";
import { InterruptedError } from "../errors.js";
import type { TableRowCount } from "../catalog/manifest.js";
import type { DumpFacts } from "../catalog/backup-manifest.js";
import type { EntryInspector } from "../archive/inspector.js";
import type { Logger } from "../output/logger.js";
import { startProgress, type LiveArea, type Progress } from "../output/progress.js";
import type { PathSet } from "../references/media-paths.js";
import { readMigrationState, type MigrationState } from "../references/migrations.js";
import { readReferencedPaths, type ResolvedColumn } from "../references/reference-columns.js";
import type { StoreKey } from "../media-store/object-names.js";
import { writeStoreMedia, type StartedWalk, type StoreUpload } from "../media-store/store-writer.js";
import { contentLock } from "../media-store/object-retention.js";
import { CHUNK_LOCKS_OBJECT, readChunkLocks } from "../media-store/chunk-locks.js";
import {
  STAT_CACHE_OBJECT,
  STAT_CACHE_PURPOSE,
  openStatCache,
  type StatCacheCursor,
} from "../media-store/stat-cache.js";
import type { ChildSource } from "../stages/child-source.js";
import { spawnMediaArchive } from "../stages/media-archive.js";
import { spawnPgDump } from "../stages/pg-dump.js";
import { uploadChildOutput, type StreamResult, type UploadStream } from "../stages/upload-stream.js";
import type { ObjectStore, PutStreamOptions } from "../store/object-store.js";
import type { SnapshotSession } from "../pg/snapshot-session.js";
import { readDatabaseProperties } from "../pg/database-properties.js";
import { readOwnership } from "../pg/owners.js";
import { readGlobals } from "../pg/globals.js";
import type { BackupSettings } from "../settings/config.js";
import type { ObjectCatalog } from "../media-store/object-catalog.js";

/** The run's streams: cancelled together, each shown on the progress lines until it is stored. */
export class StreamGroup {
  private readonly streams: UploadStream[] = [];
  private results: PromiseSettledResult<StreamResult>[] = [];
  /** The first failure or signal: the reason reported, whatever failed after it. */
  cause: Error | undefined;
  private readonly progress: Progress;
  private readonly onSignal: () => void;

  constructor(
    log: Logger,
    intervalMs: number,
    area: LiveArea | undefined,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.onSignal = () => this.cancelAll(new InterruptedError((signal?.reason as NodeJS.Signals) ?? "SIGTERM"));
    signal?.addEventListener("abort", this.onSignal, { once: true });
    this.progress = startProgress({ log, intervalMs, area });
  }

  readonly cancelAll = (reason: Error): void => {
    this.cause ??= reason;
    for (const s of this.streams) s.cancel(reason);
  };

  /** Adds the stream and shows its bytes under `stage` until it is stored. */
  add(s: UploadStream, stage: string): void {
    const line = this.progress.track(s.stage, { stage });
    line.follow(s.meter);
    s.done.then(() => line.finish("stored")).catch(() => line.finish("failed"));
    this.streams.push(s);
  }

  /** Cancels what started after a signal that arrived while the streams were starting. */
  cancelLateStarters(): void {
    if (this.cause) this.cancelAll(this.cause);
  }

  /** Waits for every stream; the first to fail cancels the rest. */
  async settle(): Promise<void> {
    this.results = await Promise.allSettled(
      this.streams.map((s) =>
        s.done.catch((error: unknown) => {
          this.cancelAll(error instanceof Error ? error : new Error(String(error)));
          throw error;
        }),
      ),
    );
  }

  /**
   * Once every stream succeeded (a failure cancelled the rest and was thrown): each part's result
   * by the part it stored, never by its position in the list.
   */
  stored(part: UploadStream["stage"]): StreamResult | undefined {
    const i = this.streams.findIndex((s) => s.stage === part);
    return i < 0 ? undefined : (this.results[i] as PromiseFulfilledResult<StreamResult>).value;
  }

  stop(): void {
    this.progress.stop();
    this.signal?.removeEventListener("abort", this.onSignal);
  }
}

/** What the run decided before a byte is streamed: object names, retention, encryption. */
export interface BackupPlan {
  lock: PutStreamOptions["lock"];
  putOptions: (estimate: number) => PutStreamOptions;
  recipients: string[] | undefined;
  /** Encryption is one more stage between the child and the hash (sha256 and size are of the stored bytes). */
  seal: (source: ChildSource) => ChildSource;
  /** The dump's stream stage (zstd), absent when pg_dump compresses itself (gzip) or nothing does. */
  dumpStage: string | undefined;
  databaseKey: string;
  /** none for the store format's segment list; MEDIA_COMPRESSION for a tar archive. */
  mediaCompression: Compression | undefined;
  mediaKey: string | undefined;
}

/** What the run's phases share. */
export interface StreamContext {
  settings: BackupSettings;
  store: ObjectStore;
  log: Logger;
  prefix: string;
  plan: BackupPlan;
  group: StreamGroup;
}

/** The reads taken in the dump's snapshot, running beside it. */
export interface SnapshotReads {
  /** pg_dump's warnings: what the dump lacks although pg_dump exited 0 (logged, kept in the manifest). */
  warnings: string[];
  rowCounts: Promise<TableRowCount[]>;
  migrations: Promise<MigrationState | null>;
  ownership: Promise<NonNullable<DumpFacts["owned"]>>;
  referencesRead?: Promise<void>;
}

/** Starts pg_dump in the exported snapshot, and the reads taken in that same snapshot. */
export function startDatabase(
  ctx: StreamContext,
  session: SnapshotSession,
  referenceColumns: ResolvedColumn[],
  referenced: PathSet,
): SnapshotReads {
  const { settings, log, plan } = ctx;
  const warnings: string[] = [];
  const dump = spawnPgDump(
    settings.database!,
    session.snapshotId,
    settings.pgDumpCompression,
    settings.pgBinDir,
    (warning) => {
      warnings.push(warning);
      log.warn({ stage: "pg_dump", warning }, `pg_dump: ${warning}`);
    },
  );
  ctx.group.add(
    uploadChildOutput(
      "database",
      plan.seal(dump),
      ctx.store,
      `${ctx.prefix}/${plan.databaseKey}`,
      plan.putOptions(session.databaseBytes),
    ),
    plan.dumpStage ? `pg_dump+${plan.dumpStage}` : "pg_dump",
  );
  // Counted in the exporting transaction, i.e. in exactly the snapshot pg_dump reads.
  const rowCounts = session.countRows();
  rowCounts.catch(() => undefined);
  const migrations = session.inSnapshot(readMigrationState);
  migrations.catch(() => undefined);
  // Who owns what, and the database's own properties: what pg_restore alone cannot restore.
  const name = settings.database!.database;
  const ownership = session.inSnapshot(async (client) => ({
    ...(await readOwnership(client)),
    ...(await readGlobals(client)),
    properties: await readDatabaseProperties(client, name),
  }));
  ownership.catch(() => undefined);
  let referencesRead: Promise<void> | undefined;
  if (referenceColumns.length) {
    referencesRead = session.inSnapshot((client) => readReferencedPaths(client, referenceColumns, referenced));
    referencesRead.catch(() => undefined);
  }
  return { warnings, rowCounts, migrations, ownership, referencesRead };
}

/** The snapshot reads' results, in the order they were started. */
export async function awaitSnapshotReads(reads: SnapshotReads | undefined) {
  const tables = reads ? await reads.rowCounts : [];
  const migrations = reads ? await reads.migrations : null;
  const owned = reads ? await reads.ownership : undefined;
  await reads?.referencesRead;
  return { tables, migrations, owned };
}

/** Starts tar over the media folder, compressed (and encrypted) on its way into the store. */
export function startTarMedia(ctx: StreamContext, estimate: number, inspector: EntryInspector): void {
  const { dir, compression, level } = ctx.settings.media!;
  const tar = spawnMediaArchive(dir, compression, level, inspector);
  ctx.group.add(
    uploadChildOutput(
      "media",
      ctx.plan.seal(tar),
      ctx.store,
      `${ctx.prefix}/${ctx.plan.mediaKey}`,
      ctx.plan.putOptions(estimate),
    ),
    compression === "none" ? "tar" : `tar+${compression}`,
  );
}

/** Starts the store format's writer, reusing the newest earlier set's stat cache unless told to rehash. */
export async function startStoreMedia(
  ctx: StreamContext,
  options: {
    storeKey: StoreKey;
    backupId: string;
    rehash: boolean;
    inspector: EntryInspector;
    catalog?: Promise<ObjectCatalog>;
    walk?: Promise<StartedWalk>;
  },
): Promise<StoreUpload> {
  const { settings, store, log, prefix, plan } = ctx;
  const { lock, recipients } = plan;
  const media = settings.media!;
  const { rehash } = options;
  const sealKey = options.storeKey.derive(STAT_CACHE_PURPOSE);
  // A rehash reads every file; under Object Lock the cache still says how long the objects it
  // names are locked already, which saves a HeadObject per reused object.
  const previous = rehash && !lock ? undefined : await previousStatCache(store, sealKey, log);
  log.info(
    { stage: "stat-cache", rehash, previous: previous?.where },
    rehash
      ? `every media file is read (--rehash or the ${REHASH_TIERS.join(", ")} tier)`
      : previous
        ? `files unchanged since ${previous.where} are not read again`
        : "no earlier store-format set: every media file is read",
  );
  const trustLock = previous !== undefined && sameRecipients(previous.recipients, recipients);
  const storeUpload = writeStoreMedia({
    statCache: {
      previous: previous?.cursor,
      sealKey,
      rehash,
      // Object names depend on the recipients: another set's lock dates are about its own names.
      trustLock,
    },
    chunkLocks: lock && {
      previous:
        trustLock && previous?.chunkLocks ? await readChunkLocks(store, previous.chunkLocks, sealKey, log) : undefined,
      key: `${prefix}/${CHUNK_LOCKS_OBJECT}`,
    },
    // The previous set's generation, so unchanged segments are reused; a rehash run starts a new
    // one, so a damaged chunk of earlier sets is not carried into it (CHUNK_GENERATION_RE).
    chunkGeneration: rehash ? options.backupId : previous?.chunkGeneration,
    dir: media.dir,
    store,
    key: options.storeKey,
    backupId: options.backupId,
    segmentListKey: `${prefix}/${plan.mediaKey}`,
    log,
    recipients,
    transfers: media.transfers,
    lock,
    contentLock: lock && settings.lock && contentLock(lock, settings.lock.days),
    partSizeMiB: settings.partSizeMiB,
    inspector: options.inspector,
    catalog: options.catalog,
    walk: options.walk,
  });
  ctx.group.add(storeUpload, "store");
  return storeUpload;
}

/**
 * The stat cache of the newest complete store-format set of any tier (they all back up the same
 * folder), or undefined when there is none.
 */
async function previousStatCache(
  store: ObjectStore,
  sealKey: Buffer,
  log: Logger,
): Promise<
  | {
      cursor: StatCacheCursor;
      where: string;
      recipients?: readonly string[];
      chunkLocks?: string;
      chunkGeneration?: string;
    }
  | undefined
> {
  // By start time: ids of one second sort by their random suffix.
  let newest: { set: CompleteBackupSet; where: string } | undefined;
  for (const tier of TIERS)
    for (const set of await listBackupSets(store, tier)) {
      if (!isComplete(set) || !hasStatCache(set)) continue;
      if (!newest || set.manifest.startedAt > newest.set.manifest.startedAt)
        newest = { set, where: setKey(set.tier, set.backupId) };
    }
  if (!newest) return undefined;
  const cursor = await openStatCache(store, newest.where, newest.set.manifest, sealKey, log);
  const chunkLocks = `${newest.where}/${CHUNK_LOCKS_OBJECT}`;
  return (
    cursor && {
      cursor,
      where: newest.where,
      recipients: newest.set.manifest.encryption?.recipients,
      chunkGeneration: newest.set.manifest.media?.store?.chunkGeneration,
      ...(newest.set.objects.some((o) => o.key === chunkLocks) ? { chunkLocks } : {}),
    }
  );
}

/** A store-format set in segments (every one has stat chunks), or a whole-file one with its cache file. */
function hasStatCache(set: CompleteBackupSet): boolean {
  const media = set.manifest.media;
  if (media?.format !== "store") return false;
  const cache = `${setKey(set.tier, set.backupId)}/${STAT_CACHE_OBJECT}`;
  return media.layout === "segments" || set.objects.some((o) => o.key === cache);
}

function sameRecipients(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  return [...(a ?? [])].sort().join("\n") === [...(b ?? [])].sort().join("\n");
}
