/**
 * The backup orchestrator: pg_dump (in an exported snapshot) and tar run at the same time, each
 * streamed through a hash into the store; the manifest is written last, and only when both
 * children exited 0 and the store holds every byte. Any failure or signal stops everything,
 * aborts the uploads and leaves no manifest.
 */
import { access, readdir, stat } from "node:fs/promises";
import { constants } from "node:fs";
import { newBackupId } from "../catalog/backup-id.js";
import { setKey } from "../catalog/catalog.js";
import { databaseStreamCompression, looksLikeRunnerCopy, objectName, rehashesMedia } from "../contract.js";
import type { BackupSettings } from "../settings/config.js";
import { ConfigError, InterruptedError, RunnerError, errorMessage } from "../errors.js";
import { PathSet } from "../references/media-paths.js";
import { referencesEntry } from "../references/references-entry.js";
import { resolveReferenceColumns, type ResolvedColumn } from "../references/reference-columns.js";
import { rate, type Logger } from "../output/logger.js";
import type { LiveArea } from "../output/progress.js";
import type { Manifest } from "../catalog/manifest.js";
import { buildBackupManifest, type MediaFacts } from "../catalog/backup-manifest.js";
import { commitSet } from "../catalog/commit-set.js";
import { loadStoreKey, STORE_KEY_REQUIRED } from "../media-store/object-names.js";
import { destinationStoreKey } from "../media-store/destination-key.js";
import type { StoreUpload } from "../media-store/store-writer.js";
import { startStoreReads, unsafeMediaMessage, walkMedia, type StoreReads } from "./backup-media-walk.js";
import { checkRecipients, refusePlaintextBesideEncrypted } from "../encryption/recipients.js";
import { encryptSource } from "../stages/age-encrypt.js";
import { choosePartSize } from "../store/part-size.js";
import { PgConnectError } from "../pg/connect.js";
import { openSnapshotSession, type SnapshotSession } from "../pg/snapshot-session.js";
import { dumpVersionProblem, pgBinary, toolVersion } from "../pg/versions.js";
import { destinationInsideMedia } from "../paths/real-path.js";
import { EntryInspector } from "../archive/inspector.js";
import type { StreamResult } from "../stages/upload-stream.js";
import type { ObjectStore, PutStreamOptions } from "../store/object-store.js";
import { sweepExpiredUploads } from "../catalog/unfinished-uploads.js";
import {
  StreamGroup,
  awaitSnapshotReads,
  startDatabase,
  startStoreMedia,
  startTarMedia,
  type BackupPlan,
  type SnapshotReads,
  type StreamContext,
} from "./backup-streams.js";

export interface BackupDeps {
  store: ObjectStore;
  log: Logger;
  signal?: AbortSignal;
  now?: () => Date;
  /** Told the run's id as soon as it is chosen (failure reports name the run). */
  onBackupId?: (backupId: string) => void;
  /** The terminal's live area, for progress lines (log lines otherwise). */
  area?: LiveArea;
  /** Called once the database snapshot is exported, before any stream starts (tests change data here). */
  onSnapshot?: () => Promise<void>;
  /** Store format: read every file, ignoring the previous stat cache (`--rehash`; the monthly tier always does). */
  rehash?: boolean;
}

async function checkMediaDir(dir: string): Promise<void> {
  const info = await stat(dir).catch(() => undefined);
  if (!info)
    throw new ConfigError([
      `MEDIA_DIR (--media-dir): ${dir} does not exist (pass --no-media for an application without media)`,
    ]);
  if (!info.isDirectory()) throw new ConfigError([`MEDIA_DIR (--media-dir): ${dir} is not a directory`]);
  await access(dir, constants.R_OK | constants.X_OK).catch(() => {
    throw new ConfigError([
      `MEDIA_DIR (--media-dir): ${dir} is not readable by this user (uid ${process.getuid?.() ?? "?"})`,
    ]);
  });
}

async function openDatabase(
  settings: BackupSettings,
  log: Logger,
): Promise<{
  session: SnapshotSession;
  pgDumpVersion: string;
  referenceColumns: ResolvedColumn[];
  /** Why the reference check will not run (a configured column is gone, not text, not readable). */
  referencesNotRun?: string;
} | null> {
  const db = settings.database;
  if (!db) return null;
  const pgDumpVersion = await toolVersion(pgBinary("pg_dump", settings.pgBinDir));
  let session: SnapshotSession;
  try {
    session = await openSnapshotSession(db);
  } catch (error) {
    if (error instanceof PgConnectError && error.advised) throw error;
    // Connected, and found something to say (privileges).
    if (error instanceof RunnerError && !(error instanceof PgConnectError)) throw error;
    const what =
      error instanceof PgConnectError
        ? error.message
        : `could not connect to the database ${db.display}: ${errorMessage(error)}`;
    throw new RunnerError(
      `${what}; check DATABASE_URL or PGHOST/PGPORT/PGUSER/PGPASSWORD and that the server accepts connections`,
      1,
      { cause: error },
    );
  }
  const problem = dumpVersionProblem(pgDumpVersion, session.serverVersion);
  if (problem) {
    await session.close();
    throw new RunnerError(problem);
  }
  // A malformed MEDIA_REFERENCES is bad input (the contract refuses it); a column the database no
  // longer has (a migration renamed it) must not cost the backup: the set is taken without the
  // check, and the run says so in its log, webhook, metric and manifest.
  const references = await session
    .inSnapshot((client) => resolveReferenceColumns(client, settings.mediaReferences))
    .catch(async (error: unknown) => {
      await session.close();
      throw error;
    });
  let referencesNotRun: string | undefined;
  if (references.problems.length) {
    referencesNotRun = referencesNotRunReason(references.problems);
    log.warn(
      { stage: "references", referenceCheck: "not-run", problems: references.problems },
      `the media reference check will not run: ${referencesNotRun}; the backup goes ahead without it`,
    );
  }
  log.info(
    { stage: "database", pgDumpVersion, serverVersion: session.serverVersion, estimateBytes: session.databaseBytes },
    "database snapshot exported",
  );
  return {
    session,
    pgDumpVersion,
    referenceColumns: referencesNotRun ? [] : references.columns,
    ...(referencesNotRun ? { referencesNotRun } : {}),
  };
}

/** The manifest's and the messages' reason for a reference check that did not run. */
function referencesNotRunReason(problems: readonly string[]): string {
  return `MEDIA_REFERENCES names ${problems.length === 1 ? "a column" : "columns"} the database cannot check (${problems.join("; ")}); update MEDIA_REFERENCES to the columns' current names (a migration renamed or removed them?)`;
}

/**
 * Top-level names that look like the runner's copies (`.edms-...`) but are not exactly one are
 * archived like any other file; said once, since earlier runners left them out without a word.
 */
async function warnLookAlikes(dir: string, log: Logger): Promise<void> {
  const names = (await readdir(dir, { encoding: "buffer" })).filter((n) => looksLikeRunnerCopy(n));
  if (names.length)
    log.warn(
      { stage: "media", lookAlikes: names.slice(0, 10).map((n) => n.toString("utf8")), count: names.length },
      `${names.length} top-level entr${names.length === 1 ? "y is" : "ies are"} named like the runner's own copies but ` +
        "not exactly one (.edms-staging-<run id>, .edms-previous-<run id>): archived like any other file",
    );
}

/** Everything checked before a byte is streamed: signal, media folder, a free set name, the database. */
async function preflight(
  settings: BackupSettings,
  store: ObjectStore,
  prefix: string,
  log: Logger,
  signal?: AbortSignal,
  /** The media folder's walk, started already (runBackup); awaited only after the checks before it. */
  mediaWalk?: Promise<{ sourceBytes: number }>,
) {
  if (signal?.aborted) throw new InterruptedError(signal.reason as NodeJS.Signals);
  if (settings.media) await checkMediaDir(settings.media.dir);
  if (settings.encryption) await checkRecipients(settings.encryption.recipients);
  await refusePlaintextBesideEncrypted(store, settings.encryption?.recipients, settings.env.ALLOW_PLAINTEXT);
  if (settings.media && settings.destination.kind === "file") {
    const problem = await destinationInsideMedia(settings.media.dir, settings.destination.root);
    if (problem) throw new ConfigError([problem]);
  }
  const media = settings.media ? await (mediaWalk ?? walkMedia(settings.media.dir, settings.media.format)) : undefined;
  if (settings.media) await warnLookAlikes(settings.media.dir, log);
  let storeKey;
  if (settings.media?.format === "store") {
    const loaded = await loadStoreKey(settings.env);
    if (loaded && "problems" in loaded) throw new ConfigError(loaded.problems);
    // Unencrypted without a key: the destination's own, read or made once every check passed.
    if (!loaded && settings.encryption) throw new ConfigError([STORE_KEY_REQUIRED]);
    storeKey = loaded;
  }
  for await (const existing of store.list(`${prefix}/`)) {
    throw new RunnerError(
      `backup set ${prefix} already has ${existing.key}; refusing to overwrite (clock or id collision)`,
    );
  }
  return { media, storeKey, database: await openDatabase(settings, log) };
}

export async function runBackup(settings: BackupSettings, deps: BackupDeps): Promise<Manifest> {
  const now = deps.now ?? (() => new Date());
  const started = now();
  const backupId = newBackupId(started);
  deps.onBackupId?.(backupId);
  const prefix = setKey(settings.tier, backupId);
  const log = deps.log.child({ backupId, tier: settings.tier });
  const { store } = deps;
  log.info({ stage: "start", destination: store.display, trigger: settings.trigger }, "backup started");

  const early = settings.media?.format === "store" ? startStoreReads(settings.media.dir, store) : undefined;
  const checked = await preflight(settings, store, prefix, log, deps.signal, early?.mediaWalk).catch(
    (error: unknown) => {
      early?.drop();
      log.error({ stage: "failed", error: errorMessage(error) }, "backup failed before anything was stored");
      throw backupFailed(error);
    },
  );
  const { database } = checked;
  // Before this run's own uploads start, and after every check (bad input touches nothing): a run
  // killed mid-upload is exactly what the next one must clean up after.
  await sweepExpiredUploads(store, now(), log);
  await deps.onSnapshot?.();
  const plan = planBackup(settings, started);

  const group = new StreamGroup(log, settings.progressIntervalMs, deps.area, deps.signal);
  const { refs, inspector } = watchMedia(settings, database, group);
  const ctx: StreamContext = { settings, store, log, prefix, plan, group };

  try {
    const reads = database ? startDatabase(ctx, database.session, refs.columns, refs.referenced) : undefined;
    const storeUpload = await startMedia(ctx, checked, { backupId, rehash: deps.rehash, inspector, early });
    group.cancelLateStarters();

    const snapshot = await awaitStreams(group, reads, inspector);
    const [dbResult, mediaResult] = [group.stored("database"), group.stored("media")];
    await checkStoredBytes(store, [dbResult, mediaResult]);
    throwIfAborted(deps.signal);

    const full = buildBackupManifest({
      backupId,
      tier: settings.tier,
      trigger: settings.trigger,
      startedAt: started,
      finishedAt: now(),
      appName: settings.appName,
      appVersion: settings.appVersion,
      database:
        database && dbResult && reads
          ? {
              stored: { key: plan.databaseKey, bytes: dbResult.bytes, sha256: dbResult.sha256 },
              compression: settings.pgDumpCompression,
              name: settings.database!.database,
              pgDumpVersion: database.pgDumpVersion,
              serverVersion: database.session.serverVersion,
              warnings: reads.warnings,
              ...snapshot,
            }
          : null,
      media: settings.media && mediaResult ? mediaFacts(plan, mediaResult, inspector, storeUpload, refs) : null,
    });
    const manifest = await commitSet(store, prefix, full, {
      recipients: plan.recipients,
      lock: plan.lock,
      beforeManifest: () => {
        throwIfAborted(deps.signal);
        warnMissingReferences(log, full);
      },
    });
    logDone(log, manifest, started, prefix, plan.recipients !== undefined);
    return manifest;
  } catch (error) {
    const reported = group.cause ?? error;
    log.error({ stage: "failed", error: errorMessage(reported) }, "backup failed; no manifest was written");
    throw backupFailed(reported);
  } finally {
    group.stop();
    await database?.session.close();
  }
}

/** Object names, retention and encryption for this run, decided before a byte is streamed. */
function planBackup(settings: BackupSettings, started: Date): BackupPlan {
  const lock: PutStreamOptions["lock"] = settings.lock
    ? { mode: settings.lock.mode, retainUntil: new Date(started.getTime() + settings.lock.days * 86_400_000) }
    : undefined;
  const recipients = settings.encryption?.recipients;
  const encrypted = recipients !== undefined;
  // zstd:N compresses the dump as a stream stage after pg_dump -Z0 (database.dump.zst); gzip:N
  // is pg_dump's own, inside the custom format (database.dump).
  const dumpStage = databaseStreamCompression(settings.pgDumpCompression);
  // The store format's media object is its segment list, plain text (the index chunks it names
  // are gzip); the tar format's archive uses MEDIA_COMPRESSION.
  const inStore = settings.media?.format === "store";
  const mediaCompression = inStore ? "none" : settings.media?.compression;
  return {
    lock,
    putOptions: (estimate) => ({
      partSize: choosePartSize(estimate, settings.partSizeMiB),
      queueSize: settings.queueSize,
      contentType: "application/octet-stream",
      lock,
    }),
    recipients,
    // Encryption is one more stage between the child and the hash: the manifest's sha256 and size
    // are of the stored (encrypted) bytes.
    seal: (source) => (recipients ? encryptSource(source, recipients) : source),
    dumpStage,
    mediaCompression,
    databaseKey: objectName("database", { compression: dumpStage, encrypted }),
    mediaKey: settings.media
      ? inStore
        ? objectName("segments")
        : objectName("media", { compression: mediaCompression, encrypted })
      : undefined,
  };
}

function backupFailed(error: unknown): RunnerError {
  return error instanceof RunnerError
    ? error
    : new RunnerError(`backup failed: ${errorMessage(error)}`, 1, { cause: error });
}

/** What watches tar's listing (or the store writer's walk) as the media is stored. */
function watchMedia(
  settings: BackupSettings,
  database: Awaited<ReturnType<typeof preflight>>["database"],
  group: StreamGroup,
): { refs: ReferenceCheck; inspector: EntryInspector } {
  // The reference check compares what the columns held in the dump's snapshot with the files the
  // archive actually holds (tar's listing), so both sides describe this backup set exactly.
  const refs: ReferenceCheck = {
    columns: settings.media ? (database?.referenceColumns ?? []) : [],
    referenced: new PathSet(),
    archived: new PathSet(),
    notRun: database?.referencesNotRun,
  };
  // An entry that appeared after the preflight walk (the folder is live) is caught in tar's
  // listing: the run stops at once rather than store a set its own restore would refuse.
  const inspector = new EntryInspector({
    onUnsafe: (problem) => group.cancelAll(new RunnerError(unsafeMediaMessage(settings.media?.dir ?? "", problem))),
    onFile: refs.columns.length ? (name) => refs.archived.add(name) : undefined,
  });
  return { refs, inspector };
}

/** Starts the media stream: the store format's writer, or tar (none without media). */
async function startMedia(
  ctx: StreamContext,
  checked: Awaited<ReturnType<typeof preflight>>,
  options: {
    backupId: string;
    rehash: boolean | undefined;
    inspector: EntryInspector;
    early: StoreReads | undefined;
  },
): Promise<StoreUpload | undefined> {
  const { settings } = ctx;
  const { backupId, inspector } = options;
  if (settings.media?.format === "store") {
    const rehash = options.rehash || rehashesMedia(settings.tier);
    // Unencrypted without a configured key: the destination's own, read or made now that every check passed.
    const storeKey = checked.storeKey ?? (await destinationStoreKey(ctx.store));
    return startStoreMedia(ctx, {
      storeKey,
      backupId,
      rehash,
      inspector,
      catalog: options.early?.catalog,
      walk: options.early?.walk,
    });
  }
  if (settings.media) startTarMedia(ctx, checked.media?.sourceBytes ?? 0, inspector);
  return undefined;
}

/** The media part of the manifest's inputs. */
function mediaFacts(
  plan: BackupPlan,
  result: StreamResult,
  inspector: EntryInspector,
  storeUpload: StoreUpload | undefined,
  refs: ReferenceCheck,
): MediaFacts {
  return {
    stored: { key: plan.mediaKey!, bytes: result.bytes, sha256: result.sha256 },
    compression: plan.mediaCompression!,
    tally: inspector.tally,
    ...(storeUpload && { store: { stats: storeUpload.stats } }),
    ...(refs.columns.length ? { references: referencesEntry(refs.columns, refs.referenced, refs.archived) } : {}),
    referencesNotRun: refs.notRun,
  };
}

/** The configured reference columns, the paths they hold and the files the archive holds. */
interface ReferenceCheck {
  columns: ResolvedColumn[];
  referenced: PathSet;
  archived: PathSet;
  /** Why the check did not run (a configured column is gone, not text, not readable). */
  notRun: string | undefined;
}

/** Waits for every stream and snapshot read; throws the run's first failure, or tar's unreadable entries. */
async function awaitStreams(group: StreamGroup, reads: SnapshotReads | undefined, inspector: EntryInspector) {
  await group.settle();
  const snapshot = await awaitSnapshotReads(reads);
  if (group.cause) throw group.cause;
  const unreadable = inspector.unreadableSummary();
  if (unreadable)
    throw new RunnerError(
      `tar listed entries the runner cannot read, so the manifest's file count cannot be trusted: ${unreadable}`,
    );
  return snapshot;
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new InterruptedError(signal.reason as NodeJS.Signals);
}

/** The store must hold exactly the bytes that were hashed, or the manifest would vouch for something else. */
async function checkStoredBytes(store: ObjectStore, results: Array<StreamResult | undefined>): Promise<void> {
  for (const r of results) {
    if (!r) continue;
    const stored = await store.head(r.key);
    if (stored?.bytes !== r.bytes) {
      throw new RunnerError(
        `${r.key}: the store holds ${stored?.bytes ?? "no"} bytes but ${r.bytes} were sent; the backup is not complete`,
      );
    }
  }
}

function warnMissingReferences(log: Logger, full: Manifest): void {
  const refs = full.media?.references;
  if (refs?.missing)
    log.warn(
      {
        stage: "references",
        missing: refs.missing,
        referenced: refs.referenced,
        missingPaths: refs.missingPaths?.slice(0, 10),
      },
      `${refs.missing} of ${refs.referenced} media files referenced by ${refs.columns?.join(", ")} are not in the media folder; the backup holds what existed`,
    );
}

function logDone(log: Logger, manifest: Manifest, started: Date, prefix: string, encrypted: boolean): void {
  const seconds = (Date.parse(manifest.finishedAt) - started.getTime()) / 1000;
  log.info(
    {
      stage: "done",
      seconds,
      databaseBytes: manifest.database?.bytes,
      mediaBytes: manifest.media?.bytes,
      mediaFiles: manifest.media?.files,
      tables: manifest.database?.tableCount,
      encrypted,
      rate: rate((manifest.database?.bytes ?? 0) + (manifest.media?.bytes ?? 0), seconds * 1000),
    },
    `backup ${prefix} complete`,
  );
}
