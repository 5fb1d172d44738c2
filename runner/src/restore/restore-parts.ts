/**
 * The two halves of every restore (and drill): a dump into a database that does not exist yet,
 * and a media archive into an empty folder. Each checks what it restored against the manifest
 * (checksum while streaming, then row counts / file counts) and cleans up after itself on failure.
 */
import { RunnerError, errorMessage } from "../errors.js";
import { looksFull } from "./free-space.js";
import { dumpStreamCompression, type DatabaseEntry, type MediaEntry, type TableRowCount } from "../catalog/manifest.js";
import type { PgConnection } from "../pg/connection.js";
import { rowCountDifferences } from "../pg/row-counts.js";
import { settingLabel } from "../settings/settings-table.js";
import { pgBinary, restoreVersionProblem, toolVersion } from "../pg/versions.js";
import { spawnSinkChain, type ChildSink } from "../stages/child-sink.js";
import { createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import type { DigestMeter } from "../stages/digest-meter.js";
import type { ChildSource } from "../stages/child-source.js";
import { Readable } from "node:stream";
import { EntryInspector } from "../archive/inspector.js";
import type { ObjectStore } from "../store/object-store.js";
import {
  countRowsIn,
  createDatabase,
  dropDatabase,
  setDatabaseOwner,
  spawnPgRestore,
  type RestoreObjectOptions,
} from "./database-staging.js";
import { spawnTarSink, tarExtractArgs } from "../readback/tar-args.js";
import { feedVerified } from "../readback/verified-feed.js";
import { dumpDecodeSteps } from "../readback/dump-decoder.js";
import { zstdDecompressTo } from "../stages/zstd.js";
import { restoreStoreMedia, type StoreRestoreTally } from "../media-store/store-reader.js";
import type { PathSelection } from "../media-store/path-selection.js";
import { analyzeDatabase, detachSubscriptions } from "./staging-fixups.js";

export interface PartContext {
  store: ObjectStore;
  /** `<tier>/<backupId>` */
  setPrefix: string;
  onMeter?: (meter: DigestMeter) => void;
  signal?: AbortSignal;
  /** Decryption of an encrypted set's objects (see decryptionFor). */
  decrypt?: (input: Readable) => ChildSource;
  /** Store format: content objects downloaded at once (MEDIA_STORE_TRANSFERS, default 8). */
  transfers?: number;
}

/** Stops a child when the run is cancelled (another part failed, or a signal). */
function stopOnAbort(signal: AbortSignal | undefined, stop: () => void): void {
  if (signal?.aborted) stop();
  signal?.addEventListener("abort", stop, { once: true });
}

export interface RestoredDatabase {
  counts: TableRowCount[];
  /** Subscriptions restored, each left disabled and detached from its slot (staging-fixups.ts). */
  subscriptions: string[];
  /** How long ANALYZE of the restored database took. */
  analyzeSeconds: number;
}

/**
 * Creates `database`, restores the dump into it and checks every table's row count against the
 * manifest. On any failure the database is dropped again. Returns the counts found.
 */
export async function restoreDatabasePart(
  ctx: PartContext,
  entry: DatabaseEntry,
  connection: PgConnection,
  database: string,
  binDir: string | undefined,
  options: {
    checkRowCounts: boolean;
    scratch?: { dir: string; jobs: number };
    /** Each warning pg_restore prints (logged by the caller). */
    onWarning?: (warning: string) => void;
    /** Keep the dump's owners; restore its subscriptions (both need the right role). */
    owners?: RestoreObjectOptions;
    /**
     * The source database's owner, given to the new database before pg_restore when owners are
     * kept: ALTER ... OWNER TO a role needs that role to have CREATE on the schema, and in the
     * public schema only the database's owner has it (a superuser is not asked).
     */
    databaseOwner?: string;
  },
): Promise<RestoredDatabase> {
  // The version probe runs while the server creates the staging database (both take tens of
  // milliseconds that would otherwise add up); a pg_restore that cannot read the dump still
  // fails first, and the database it no longer needs is dropped.
  const [probe, made] = await Promise.allSettled([
    toolVersion(pgBinary("pg_restore", binDir)).then((version) => restoreVersionProblem(version, entry)),
    createDatabase(connection, database),
  ]);
  if (probe.status === "rejected" || probe.value) {
    if (made.status === "fulfilled") await dropDatabase(connection, database).catch(() => undefined);
    throw probe.status === "rejected" ? probe.reason : new RunnerError(probe.value!);
  }
  if (made.status === "rejected") throw made.reason;
  try {
    // Best effort: when it cannot be set, pg_restore's own ALTER ... OWNER names what failed.
    if (options.owners?.keep && options.databaseOwner)
      await setDatabaseOwner(connection, database, options.databaseOwner).catch(() => undefined);
    const restoreOptions = { onWarning: options.onWarning, owners: options.owners };
    if (options.scratch)
      await restoreFromScratchCopy(ctx, entry, connection, database, binDir, options.scratch, restoreOptions);
    else {
      // The runner hashes (and decrypts) the stored bytes; zstd -d | pg_restore is an OS pipe.
      const sink = spawnPgRestore(
        connection,
        database,
        binDir,
        { decode: dumpDecodeSteps(entry) },
        options.onWarning,
        options.owners,
      );
      stopOnAbort(ctx.signal, sink.stop);
      await feedVerified(ctx.store, ctx.setPrefix, entry, sink, ctx.onMeter, ctx.decrypt);
    }
    const counts = await countRowsIn(connection, database, entry.rowCounting !== "only");
    const problems = options.checkRowCounts ? rowCountDifferences(entry.tables ?? [], counts) : [];
    if (problems.length)
      throw new RunnerError(`restored database does not match the manifest: ${problems.slice(0, 5).join("; ")}`);
    const subscriptions = await detachSubscriptions(connection, database);
    const analyzeSeconds = await analyzeDatabase(connection, database);
    return { counts, subscriptions, analyzeSeconds };
  } catch (error) {
    await dropDatabase(connection, database).catch(() => undefined);
    throw error;
  }
}

/**
 * The dump decoded into a private folder inside `scratch.dir` while its stored bytes are hashed;
 * pg_restore --jobs reads the file only after the checksum matched. The folder is removed
 * afterwards, whatever happened.
 */
async function restoreFromScratchCopy(
  ctx: PartContext,
  entry: DatabaseEntry,
  connection: PgConnection,
  database: string,
  binDir: string | undefined,
  scratch: { dir: string; jobs: number },
  options: { onWarning?: (warning: string) => void; owners?: RestoreObjectOptions },
): Promise<void> {
  const work = await mkdtemp(path.join(scratch.dir, "edms-restore-"));
  try {
    const file = path.join(work, "database.dump");
    // A zstd dump is decoded by zstd into the file itself, so the decoded dump (the bulk of the
    // bytes) never passes through the runner; a dump stored as pg_restore reads it is copied.
    const copy: ChildSink = dumpStreamCompression(entry)
      ? spawnSinkChain([zstdDecompressTo(file)])
      : {
          exited: Promise.resolve(),
          pid: undefined,
          stop: () => undefined,
          feed: (source) => pipeline(source, createWriteStream(file, { flags: "wx", mode: 0o600 })),
        };
    stopOnAbort(ctx.signal, copy.stop);
    await feedVerified(ctx.store, ctx.setPrefix, entry, copy, ctx.onMeter, ctx.decrypt).catch(
      async (error: unknown) => {
        // zstd says "error 69 : Final skip error", Node ENOSPC: either way, say what it is.
        if (!(await looksFull(scratch.dir))) throw error;
        throw new RunnerError(
          `no space left in ${settingLabel("RESTORE_SCRATCH_DIR")} ${scratch.dir} while decoding the dump (${entry.bytes} bytes stored; ` +
            "a zstd dump decodes to more): choose a larger --scratch-dir, or restore without one (the dump then streams into pg_restore); " +
            `the live database was not touched (${errorMessage(error)})`,
          1,
          { cause: error },
        );
      },
    );
    if (ctx.signal?.aborted) throw ctx.signal.reason;
    const sink = spawnPgRestore(
      connection,
      database,
      binDir,
      { file, jobs: scratch.jobs },
      options.onWarning,
      options.owners,
    );
    stopOnAbort(ctx.signal, sink.stop);
    await sink.feed(Readable.from([]));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * Extracts the media archive into the empty folder `dir` (the caller removes it on failure),
 * refusing unsafe entries and checking the file count and bytes against the manifest.
 */
export async function restoreMediaPart(
  ctx: PartContext,
  entry: MediaEntry,
  dir: string,
  selection?: PathSelection,
): Promise<StoreRestoreTally> {
  if (entry.format === "store")
    return restoreStoreMedia({ ...ctx, backupId: ctx.setPrefix.split("/")[1] ?? "" }, entry, dir, selection);
  // Only the store's index can be read entry by entry; planRestore refuses --path for a tar set.
  if (selection) throw new RunnerError("--path needs a store-format set", 2);
  const inspector = new EntryInspector();
  const sink = spawnTarSink(entry.compression, tarExtractArgs(dir), "tar --extract", inspector);
  stopOnAbort(ctx.signal, sink.stop);
  const refuse = () => {
    const unsafe = inspector.unsafeSummary();
    if (unsafe) throw new RunnerError(`refusing the media archive: unsafe entries: ${unsafe}`);
    const unreadable = inspector.unreadableSummary();
    if (unreadable)
      throw new RunnerError(`refusing the media archive: tar listed entries the runner cannot read: ${unreadable}`);
  };
  try {
    await feedVerified(ctx.store, ctx.setPrefix, entry, sink, ctx.onMeter, ctx.decrypt);
  } catch (error) {
    // tar's own refusal of ".." or absolute members is best explained by the entries themselves.
    refuse();
    throw error;
  }
  refuse();
  const { tally } = inspector;
  if (tally.files !== entry.files || tally.sourceBytes !== entry.sourceBytes) {
    throw new RunnerError(
      `restored media does not match the manifest: ${tally.files} files / ${tally.sourceBytes} bytes extracted, the manifest says ${entry.files} / ${entry.sourceBytes}`,
    );
  }
  return tally;
}
