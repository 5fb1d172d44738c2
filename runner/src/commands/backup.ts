/**
 * The backup orchestrator: pg_dump (in an exported snapshot) and tar run at the same time, each
 * streamed through a hash into the store; the manifest is written last, and only when both
 * children exited 0 and the store holds every byte. Any failure or signal stops everything,
 * aborts the uploads and leaves no manifest.
 */
import { access, readdir, stat } from "node:fs/promises";
import { constants } from "node:fs";
import { newBackupId } from "../catalog/backup-id.js";
import { isComplete, listBackupSets, setKey } from "../catalog/catalog.js";
import {
  MANIFEST_OBJECT,
  REHASH_TIERS,
  rehashesMedia,
  TIERS,
  databaseStreamCompression,
  excludedFromArchive,
  looksLikeRunnerCopy,
  formatDatabaseCompression,
  objectName,
} from "../contract.js";
import type { BackupSettings } from "../settings/config.js";
import { ConfigError, InterruptedError, RunnerError, errorMessage } from "../errors.js";
import { PathSet } from "../references/media-paths.js";
import { readMigrationState, type MigrationState } from "../references/migrations.js";
import { referencesEntry } from "../references/references-entry.js";
import { readReferencedPaths, resolveReferenceColumns, type ResolvedColumn } from "../references/reference-columns.js";
import { rate, type Logger } from "../output/logger.js";
import { startProgress, type LiveArea } from "../output/progress.js";
import {
  MANIFEST_FORMAT_VERSION,
  STORE_MANIFEST_FORMAT_VERSION,
  serializeManifest,
  type Manifest,
  type TableRowCount,
} from "../catalog/manifest.js";
import { loadStoreKey } from "../media-store/object-names.js";
import { writeStoreMedia, type StoreUpload } from "../media-store/store-writer.js";
import { contentLock } from "../media-store/object-retention.js";
import { OBJECT_LIST_OBJECT } from "../media-store/object-list.js";
import {
  STAT_CACHE_OBJECT,
  STAT_CACHE_PURPOSE,
  openStatCache,
  type StatCacheCursor,
} from "../media-store/stat-cache.js";
import { namesOf, storeNames, withoutNames } from "../encryption/names.js";
import { checkRecipients, refusePlaintextBesideEncrypted } from "../encryption/recipients.js";
import { encryptSource } from "../stages/age-encrypt.js";
import type { ChildSource } from "../stages/child-source.js";
import { choosePartSize } from "../store/part-size.js";
import { PgConnectError } from "../pg/connect.js";
import { openSnapshotSession, type SnapshotSession } from "../pg/snapshot-session.js";
import { readDatabaseProperties, type DatabaseProperties } from "../pg/database-properties.js";
import { readOwnership, type Definer } from "../pg/owners.js";
import { readGlobals, type RoleEntry } from "../pg/globals.js";
import { dumpVersionProblem, majorOf, pgBinary, toolVersion } from "../pg/versions.js";
import { destinationInsideMedia } from "../paths/real-path.js";
import { inspectDirectory } from "../archive/directory-walk.js";
import { EntryInspector } from "../archive/inspector.js";
import { spawnMediaArchive } from "../stages/media-archive.js";
import { spawnPgDump } from "../stages/pg-dump.js";
import { uploadChildOutput, type StreamResult, type UploadStream } from "../stages/upload-stream.js";
import type { ObjectStore, PutStreamOptions } from "../store/object-store.js";
import { RUNNER_VERSION } from "../version.js";
import { sweepExpiredUploads } from "../catalog/unfinished-uploads.js";

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

const UNSAFE_ADVICE =
  "a restore would refuse them, so no backup was made. Replace each link with a relative one that stays inside the folder (or remove it; device files cannot be backed up) and run the backup again";

/** The message for media entries a restore would refuse (README: links that leave the media folder). */
function unsafeMediaMessage(dir: string, problems: string): string {
  return `the media folder ${dir} holds entries that point outside it: ${problems}; ${UNSAFE_ADVICE}`;
}

/**
 * The media folder walked once before anything is stored: every entry a restore would refuse
 * (a link that leaves the folder, a device), named at once; and its bytes, the stream's size
 * estimate.
 */
async function walkMedia(dir: string): Promise<{ sourceBytes: number }> {
  const walked = await inspectDirectory(dir, { skipTopLevel: excludedFromArchive });
  const unsafe = walked.unsafeSummary();
  if (unsafe) throw new RunnerError(unsafeMediaMessage(dir, unsafe));
  return walked.tally;
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
) {
  if (signal?.aborted) throw new InterruptedError(signal.reason as NodeJS.Signals);
  if (settings.media) await checkMediaDir(settings.media.dir);
  if (settings.encryption) await checkRecipients(settings.encryption.recipients);
  await refusePlaintextBesideEncrypted(store, settings.encryption?.recipients, settings.env.ALLOW_PLAINTEXT);
  if (settings.media && settings.destination.kind === "file") {
    const problem = await destinationInsideMedia(settings.media.dir, settings.destination.root);
    if (problem) throw new ConfigError([problem]);
  }
  const media = settings.media ? await walkMedia(settings.media.dir) : undefined;
  if (settings.media) await warnLookAlikes(settings.media.dir, log);
  let storeKey;
  if (settings.media?.format === "store") {
    const loaded = await loadStoreKey(settings.env);
    if ("problems" in loaded) throw new ConfigError(loaded.problems);
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

  const checked = await preflight(settings, store, prefix, log, deps.signal).catch((error: unknown) => {
    log.error({ stage: "failed", error: errorMessage(error) }, "backup failed before anything was stored");
    throw error instanceof RunnerError
      ? error
      : new RunnerError(`backup failed: ${errorMessage(error)}`, 1, { cause: error });
  });
  const { database } = checked;
  // Before this run's own uploads start, and after every check (bad input touches nothing): a run
  // killed mid-upload is exactly what the next one must clean up after.
  await sweepExpiredUploads(store, now(), log);
  await deps.onSnapshot?.();
  const lock: PutStreamOptions["lock"] = settings.lock
    ? { mode: settings.lock.mode, retainUntil: new Date(started.getTime() + settings.lock.days * 86_400_000) }
    : undefined;
  const putOptions = (estimate: number): PutStreamOptions => ({
    partSize: choosePartSize(estimate, settings.partSizeMiB),
    queueSize: settings.queueSize,
    contentType: "application/octet-stream",
    lock,
  });

  const recipients = settings.encryption?.recipients;
  const encrypted = recipients !== undefined;
  // Encryption is one more stage between the child and the hash: the manifest's sha256 and size
  // are of the stored (encrypted) bytes.
  const seal = (source: ChildSource) => (recipients ? encryptSource(source, recipients) : source);
  // zstd:N compresses the dump as a stream stage after pg_dump -Z0 (database.dump.zst); gzip:N
  // is pg_dump's own, inside the custom format (database.dump).
  const dumpCompression = settings.pgDumpCompression;
  const dumpStage = databaseStreamCompression(dumpCompression);
  const databaseKey = objectName("database", { compression: dumpStage, encrypted });
  // The store format's index is zstd JSON lines; the tar format's archive uses MEDIA_COMPRESSION.
  const inStore = settings.media?.format === "store";
  const mediaCompression = inStore ? "zstd" : settings.media?.compression;
  const mediaKey =
    settings.media && objectName(inStore ? "index" : "media", { compression: mediaCompression, encrypted });
  let storeUpload: StoreUpload | undefined;

  const streams: UploadStream[] = [];
  // pg_dump's warnings ("subscriptions not dumped because current user is not a superuser"):
  // what the dump lacks although pg_dump exited 0. Logged, and kept in the manifest.
  const dumpWarnings: string[] = [];
  let rowCounts: Promise<TableRowCount[]> | undefined;
  let migrations: Promise<MigrationState | null> | undefined;
  let ownership:
    | Promise<{
        owners: string[];
        definers: Definer[];
        roles: RoleEntry[];
        tablespaces: string[];
        properties: DatabaseProperties | undefined;
      }>
    | undefined;
  // The reference check compares what the columns held in the dump's snapshot with the files the
  // archive actually holds (tar's listing), so both sides describe this backup set exactly.
  const referenceColumns = settings.media ? (database?.referenceColumns ?? []) : [];
  const referenced = new PathSet();
  const archived = new PathSet();
  let referencesRead: Promise<void> | undefined;
  let cause: Error | undefined;
  const cancelAll = (reason: Error) => {
    cause ??= reason;
    for (const s of streams) s.cancel(reason);
  };
  // An entry that appeared after the preflight walk (the folder is live) is caught in tar's
  // listing: the run stops at once rather than store a set its own restore would refuse.
  const inspector = new EntryInspector({
    onUnsafe: (problem) => cancelAll(new RunnerError(unsafeMediaMessage(settings.media?.dir ?? "", problem))),
    onFile: referenceColumns.length ? (name) => archived.add(name) : undefined,
  });
  const { tally } = inspector;
  const onSignal = () => cancelAll(new InterruptedError((deps.signal?.reason as NodeJS.Signals) ?? "SIGTERM"));
  deps.signal?.addEventListener("abort", onSignal, { once: true });
  const progress = startProgress({ log, intervalMs: settings.progressIntervalMs, area: deps.area });
  /** Shows the stream's bytes under `stage` until it is stored. */
  const track = (s: UploadStream, stage: string): UploadStream => {
    const line = progress.track(s.stage, { stage });
    line.follow(s.meter);
    s.done.then(() => line.finish("stored")).catch(() => line.finish("failed"));
    return s;
  };

  try {
    if (database) {
      const dump = spawnPgDump(
        settings.database!,
        database.session.snapshotId,
        dumpCompression,
        settings.pgBinDir,
        (warning) => {
          dumpWarnings.push(warning);
          log.warn({ stage: "pg_dump", warning }, `pg_dump: ${warning}`);
        },
      );
      streams.push(
        track(
          uploadChildOutput(
            "database",
            seal(dump),
            store,
            `${prefix}/${databaseKey}`,
            putOptions(database.session.databaseBytes),
          ),
          dumpStage ? `pg_dump+${dumpStage}` : "pg_dump",
        ),
      );
      // Counted in the exporting transaction, i.e. in exactly the snapshot pg_dump reads.
      rowCounts = database.session.countRows();
      rowCounts.catch(() => undefined);
      migrations = database.session.inSnapshot(readMigrationState);
      migrations.catch(() => undefined);
      // Who owns what, and the database's own properties: what pg_restore alone cannot restore.
      const name = settings.database!.database;
      ownership = database.session.inSnapshot(async (client) => ({
        ...(await readOwnership(client)),
        ...(await readGlobals(client)),
        properties: await readDatabaseProperties(client, name),
      }));
      ownership.catch(() => undefined);
      if (referenceColumns.length) {
        referencesRead = database.session.inSnapshot((client) =>
          readReferencedPaths(client, referenceColumns, referenced),
        );
        referencesRead.catch(() => undefined);
      }
    }
    if (settings.media && checked.storeKey) {
      const sealKey = checked.storeKey.derive(STAT_CACHE_PURPOSE);
      const rehash = deps.rehash || rehashesMedia(settings.tier);
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
      storeUpload = writeStoreMedia({
        statCache: {
          previous: previous?.cursor,
          sealKey,
          objectKey: `${prefix}/${STAT_CACHE_OBJECT}`,
          rehash,
          // Object names depend on the recipients: another set's lock dates are about its own names.
          trustLock: previous !== undefined && sameRecipients(previous.recipients, recipients),
        },
        dir: settings.media.dir,
        store,
        key: checked.storeKey,
        backupId,
        indexKey: `${prefix}/${mediaKey}`,
        objectListKey: `${prefix}/${OBJECT_LIST_OBJECT}`,
        log,
        recipients,
        transfers: settings.media.transfers,
        lock,
        contentLock: lock && settings.lock && contentLock(lock, settings.lock.days),
        partSizeMiB: settings.partSizeMiB,
        inspector,
      });
      streams.push(track(storeUpload, "store"));
    } else if (settings.media) {
      const { dir, compression, level } = settings.media;
      const estimate = checked.media?.sourceBytes ?? 0;
      const tar = spawnMediaArchive(dir, compression, level, inspector);
      streams.push(
        track(
          uploadChildOutput("media", seal(tar), store, `${prefix}/${mediaKey}`, putOptions(estimate)),
          compression === "none" ? "tar" : `tar+${compression}`,
        ),
      );
    }
    if (cause) cancelAll(cause); // a signal that arrived while the streams were starting

    const results = await Promise.allSettled(
      streams.map((s) =>
        s.done.catch((error: unknown) => {
          cancelAll(error instanceof Error ? error : new Error(String(error)));
          throw error;
        }),
      ),
    );
    const tables = rowCounts ? await rowCounts : [];
    const schemaState = migrations ? await migrations : null;
    const owned = ownership ? await ownership : undefined;
    await referencesRead;
    if (cause) throw cause;
    const unreadable = inspector.unreadableSummary();
    if (unreadable)
      throw new RunnerError(
        `tar listed entries the runner cannot read, so the manifest's file count cannot be trusted: ${unreadable}`,
      );
    // Every stream succeeded (a failure cancelled the rest and threw above): each part's result
    // by the part it stored, never by its position in the list.
    const stored = (part: UploadStream["stage"]): StreamResult | undefined => {
      const i = streams.findIndex((s) => s.stage === part);
      return i < 0 ? undefined : (results[i] as PromiseFulfilledResult<StreamResult>).value;
    };
    const [dbResult, mediaResult] = [stored("database"), stored("media")];

    // The store must hold exactly the bytes that were hashed, or the manifest would vouch for
    // something else.
    for (const r of [dbResult, mediaResult]) {
      if (!r) continue;
      const stored = await store.head(r.key);
      if (stored?.bytes !== r.bytes) {
        throw new RunnerError(
          `${r.key}: the store holds ${stored?.bytes ?? "no"} bytes but ${r.bytes} were sent; the backup is not complete`,
        );
      }
    }
    if (deps.signal?.aborted) throw new InterruptedError(deps.signal.reason as NodeJS.Signals);

    const full: Manifest = {
      formatVersion: storeUpload ? STORE_MANIFEST_FORMAT_VERSION : MANIFEST_FORMAT_VERSION,
      backupId,
      tier: settings.tier,
      trigger: settings.trigger,
      startedAt: started.toISOString(),
      finishedAt: now().toISOString(),
      runnerVersion: RUNNER_VERSION,
      appName: settings.appName,
      appVersion: settings.appVersion,
      database:
        database && dbResult
          ? {
              key: databaseKey,
              bytes: dbResult.bytes,
              sha256: dbResult.sha256,
              format: "custom",
              compression: formatDatabaseCompression(dumpCompression),
              // pg_restore reads archives of its own major version and older.
              pgRestoreMin: majorOf(database.pgDumpVersion),
              name: settings.database!.database,
              pgDumpVersion: database.pgDumpVersion,
              serverVersion: database.session.serverVersion,
              tableCount: tables.length,
              rowCount: tables.reduce((s, t) => s + t.rows, 0),
              rowCounting: "only",
              tables,
              warningCount: dumpWarnings.length,
              ...(dumpWarnings.length ? { warnings: dumpWarnings } : {}),
              ...(owned && {
                owners: owned.owners,
                definers: owned.definers,
                roles: owned.roles,
                tablespaces: owned.tablespaces,
              }),
              ...(owned?.properties && { properties: owned.properties }),
              ...(schemaState ? { migrations: schemaState } : {}),
            }
          : null,
      media:
        settings.media && mediaResult
          ? {
              key: mediaKey!,
              bytes: mediaResult.bytes,
              sha256: mediaResult.sha256,
              compression: mediaCompression!,
              ...(storeUpload
                ? { format: "store" as const, store: { ...storeUpload.stats }, objectList: storeUpload.objectList() }
                : {}),
              files: tally.files,
              sourceBytes: tally.sourceBytes,
              ...(referenceColumns.length
                ? { references: referencesEntry(referenceColumns, referenced, archived) }
                : {}),
              ...(database?.referencesNotRun ? { referencesNotRun: { reason: database.referencesNotRun } } : {}),
            }
          : null,
    };
    // An encrypted set's plain manifest names no table: the names went into the names member.
    const manifest = recipients
      ? {
          ...withoutNames(full),
          encryption: {
            format: "age" as const,
            recipients,
            names: await storeNames(store, prefix, namesOf(full), recipients, {
              contentType: "application/octet-stream",
              lock,
            }),
          },
        }
      : full;
    if (deps.signal?.aborted) throw new InterruptedError(deps.signal.reason as NodeJS.Signals);
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
    await store.putSmall(`${prefix}/${MANIFEST_OBJECT}`, serializeManifest(manifest), {
      contentType: "application/json",
      lock,
    });
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
    return manifest;
  } catch (error) {
    const reported = cause ?? error;
    log.error({ stage: "failed", error: errorMessage(reported) }, "backup failed; no manifest was written");
    throw reported instanceof RunnerError
      ? reported
      : new RunnerError(`backup failed: ${errorMessage(reported)}`, 1, { cause: reported });
  } finally {
    progress.stop();
    deps.signal?.removeEventListener("abort", onSignal);
    await database?.session.close();
  }
}

/**
 * The stat cache of the newest complete store-format set of any tier (they all back up the same
 * folder), or undefined when there is none.
 */
async function previousStatCache(
  store: ObjectStore,
  sealKey: Buffer,
  log: Logger,
): Promise<{ cursor: StatCacheCursor; where: string; recipients?: readonly string[] } | undefined> {
  // By start time: ids of one second sort by their random suffix.
  let newest: { key: string; startedAt: string; recipients?: readonly string[] } | undefined;
  for (const tier of TIERS)
    for (const set of await listBackupSets(store, tier)) {
      const key = `${setKey(set.tier, set.backupId)}/${STAT_CACHE_OBJECT}`;
      if (!isComplete(set) || set.manifest.media?.format !== "store") continue;
      if (!set.objects.some((o) => o.key === key)) continue;
      if (!newest || set.manifest.startedAt > newest.startedAt)
        newest = { key, startedAt: set.manifest.startedAt, recipients: set.manifest.encryption?.recipients };
    }
  if (!newest) return undefined;
  const cursor = await openStatCache(store, newest.key, sealKey, log);
  return cursor && { cursor, where: newest.key.slice(0, -STAT_CACHE_OBJECT.length - 1), recipients: newest.recipients };
}

function sameRecipients(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  return [...(a ?? [])].sort().join("\n") === [...(b ?? [])].sort().join("\n");
}
