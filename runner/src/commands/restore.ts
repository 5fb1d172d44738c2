/**
 * `restore`: database and media are restored side by side into staging copies (a staging
 * database, a staging folder), each verified while streaming (sha256) and afterwards (row
 * counts, file counts). Only when both passed are they swapped in by renames; until then the
 * live database and media folder are untouched, and any failure leaves them exactly as they were.
 */
import { randomBytes } from "node:crypto";
import type { CompleteBackupSet } from "../catalog.js";
import { setKey } from "../catalog.js";
import type { RestoreSettings } from "../config.js";
import { ConfigError, InterruptedError, RunnerError, errorMessage } from "../errors.js";
import { rate, type Logger } from "../logger.js";
import { startProgress } from "../progress.js";
import {
  connectionsProblem,
  databaseExists,
  derivedDatabaseName,
  dropDatabase,
  openConnections,
  swapInDatabase,
  withAdminClient,
  type DatabaseSwap,
} from "../restore/database-staging.js";
import { prepareMediaStaging, swapInMedia, type MediaStaging, type MediaSwap } from "../restore/media-staging.js";
import { restoreDatabasePart, restoreMediaPart } from "../restore/restore-parts.js";
import type { DigestMeter } from "../stages/digest-meter.js";
import type { ObjectStore } from "../store/object-store.js";

export interface RestoreOptions {
  databaseOnly?: boolean;
  mediaOnly?: boolean;
  terminateConnections?: boolean;
}

export interface RestoreDeps {
  store: ObjectStore;
  log: Logger;
  signal?: AbortSignal;
  tty?: NodeJS.WriteStream;
}

export interface RestoreResult {
  backupId: string;
  tier: string;
  database?: { name: string; bytes: number; tables: number; rows: number };
  media?: { dir: string; bytes: number; files: number };
  seconds: number;
}

export interface RestoreScopeResolved {
  database: boolean;
  media: boolean;
}

/** Which parts a restore touches: what the set holds, narrowed by --database-only / --media-only. */
export function restoreScope(
  set: CompleteBackupSet,
  options: RestoreOptions,
  settings: RestoreSettings,
): RestoreScopeResolved {
  const database = !options.mediaOnly && set.manifest.database !== null;
  const media = !options.databaseOnly && set.manifest.media !== null;
  const missing: string[] = [];
  if (database && !settings.database)
    missing.push("DATABASE_URL (--database-url): required to restore the database, or pass --media-only");
  if (media && !settings.mediaDir)
    missing.push("MEDIA_DIR (--media-dir): required (where the media is restored), or pass --database-only");
  if (missing.length) throw new ConfigError(missing);
  if (options.databaseOnly && !set.manifest.database)
    throw new RunnerError(`backup ${set.backupId} has no database dump`, 2);
  if (options.mediaOnly && !set.manifest.media) throw new RunnerError(`backup ${set.backupId} has no media archive`, 2);
  return { database, media };
}

export function describeRestore(
  set: CompleteBackupSet,
  scope: RestoreScopeResolved,
  settings: RestoreSettings,
): string {
  const parts = [
    scope.database
      ? `database "${settings.targetDatabase}" on ${settings.database?.display.replace(/\/[^/]*$/, "")}`
      : undefined,
    scope.media ? `media folder ${settings.mediaDir}` : undefined,
  ].filter(Boolean);
  return `Restore ${set.tier}/${set.backupId} (${set.manifest.startedAt}) over ${parts.join(" and ")}? Their current contents will be replaced.`;
}

/** Refuses early, before minutes of restoring, when the swap would fail anyway. */
async function preflight(
  settings: RestoreSettings,
  scope: RestoreScopeResolved,
  options: RestoreOptions,
): Promise<void> {
  if (!scope.database || !settings.database || !settings.targetDatabase) return;
  const target = settings.targetDatabase;
  await withAdminClient(settings.database, async (client) => {
    if (!options.terminateConnections && (await databaseExists(client, target))) {
      const open = await openConnections(client, target);
      if (open > 0) throw new RunnerError(connectionsProblem(target, open));
    }
  });
}

export async function runRestore(
  set: CompleteBackupSet,
  settings: RestoreSettings,
  options: RestoreOptions,
  deps: RestoreDeps,
): Promise<RestoreResult> {
  const started = Date.now();
  const scope = restoreScope(set, options, settings);
  const { manifest } = set;
  const log = deps.log.child({ backupId: set.backupId, tier: set.tier });
  const tag = randomBytes(3).toString("hex");
  await preflight(settings, scope, options);

  const cancel = new AbortController();
  const onSignal = () => cancel.abort(new InterruptedError((deps.signal?.reason as NodeJS.Signals) ?? "SIGTERM"));
  deps.signal?.addEventListener("abort", onSignal, { once: true });
  const meters: DigestMeter[] = [];
  const ctx = {
    store: deps.store,
    setPrefix: setKey(set.tier, set.backupId),
    onMeter: (m: DigestMeter) => meters.push(m),
    signal: cancel.signal,
  };
  const total = (scope.database ? manifest.database!.bytes : 0) + (scope.media ? manifest.media!.bytes : 0);
  const progress = startProgress({
    log,
    stage: "restore",
    total,
    done: () => meters.reduce((s, m) => s + m.bytes, 0),
    intervalMs: settings.progressIntervalMs,
    tty: deps.tty,
  });
  log.info(
    {
      stage: "start",
      database: scope.database ? settings.targetDatabase : undefined,
      mediaDir: scope.media ? settings.mediaDir : undefined,
    },
    "restore started",
  );

  const stagingDb = scope.database ? derivedDatabaseName(settings.targetDatabase!, `restore_${tag}`) : undefined;
  let staging: MediaStaging | undefined;
  let dbSwap: DatabaseSwap | undefined;
  let mediaSwap: MediaSwap | undefined;
  let result: RestoreResult | undefined;
  try {
    if (scope.media) staging = await prepareMediaStaging(settings.mediaDir!, tag);
    const fail = (error: unknown) => {
      if (!cancel.signal.aborted) cancel.abort(error);
      throw error;
    };
    // Both parts settle before anything else happens, so no part is still creating its staging
    // copy while a failure is being cleaned up.
    const [dbPart, mediaPart] = await Promise.allSettled([
      scope.database
        ? restoreDatabasePart(ctx, manifest.database!, settings.database!, stagingDb!, settings.pgBinDir, {
            checkRowCounts: !manifest.importedFrom,
          }).catch(fail)
        : undefined,
      scope.media ? restoreMediaPart(ctx, manifest.media!, staging!.dir).catch(fail) : undefined,
    ]);
    if (cancel.signal.aborted) throw cancel.signal.reason;
    const counts = dbPart.status === "fulfilled" ? dbPart.value : undefined;
    const tally = mediaPart.status === "fulfilled" ? mediaPart.value : undefined;
    log.info({ stage: "verified" }, "staging copies match the manifest; swapping them in");

    if (scope.database)
      dbSwap = await swapInDatabase(
        settings.database!,
        stagingDb!,
        settings.targetDatabase!,
        tag,
        Boolean(options.terminateConnections),
      );
    if (scope.media) {
      try {
        mediaSwap = await swapInMedia(staging!, settings.mediaDir!, tag);
      } catch (error) {
        await dbSwap
          ?.rollback()
          .catch((e: unknown) => log.error({ error: errorMessage(e) }, "could not roll back the database swap"));
        dbSwap = undefined;
        throw error;
      }
    }
    await dbSwap?.commit();
    await mediaSwap?.commit();
    result = {
      backupId: set.backupId,
      tier: set.tier,
      database: counts && {
        name: settings.targetDatabase!,
        bytes: manifest.database!.bytes,
        tables: counts.length,
        rows: counts.reduce((s, t) => s + t.rows, 0),
      },
      media: tally && { dir: settings.mediaDir!, bytes: manifest.media!.bytes, files: tally.files },
      seconds: (Date.now() - started) / 1000,
    };
    log.info(
      {
        stage: "done",
        database: result.database,
        media: result.media,
        seconds: result.seconds,
        rate: rate(total, Date.now() - started),
      },
      `restore of ${set.tier}/${set.backupId} complete`,
    );
    return result;
  } catch (error) {
    const cause = cancel.signal.aborted && cancel.signal.reason instanceof Error ? cancel.signal.reason : error;
    if (!dbSwap && stagingDb && settings.database)
      await dropDatabase(settings.database, stagingDb).catch(() => undefined);
    if (!mediaSwap) await staging?.discard().catch(() => undefined);
    log.error(
      { stage: "failed", error: errorMessage(cause) },
      "restore failed; the target database and media folder were left as they were",
    );
    throw cause instanceof RunnerError ? cause : new RunnerError(`restore failed: ${errorMessage(cause)}`);
  } finally {
    progress.stop();
    deps.signal?.removeEventListener("abort", onSignal);
  }
}
