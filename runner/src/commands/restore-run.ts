/**
 * The phases of one restore run after its preparation (restore.ts): the run's cancellation and
 * progress lines, its holds, the staging copies restored, verified and swapped in, and what
 * becomes of the copies they replaced.
 */
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { setKey, type CompleteBackupSet } from "../catalog/catalog.js";
import type { RestoreSettings } from "../settings/config.js";
import { copyDatabaseName } from "../contract.js";
import { InterruptedError, PartialSwapError, RunnerError, errorMessage } from "../errors.js";
import { logCauses, type Logger } from "../output/logger.js";
import { startProgress } from "../output/progress.js";
import { dropDatabase, swapInDatabase, type DatabaseSwap } from "../restore/database-staging.js";
import {
  copyPath,
  prepareMediaStaging,
  swapInMedia,
  type MediaStaging,
  type MediaSwap,
} from "../restore/media-staging.js";
import { holdRun, type RunHold } from "../restore/run-copies.js";
import { restoreDatabasePart, restoreMediaPart } from "../restore/restore-parts.js";
import type { DigestMeter } from "../stages/digest-meter.js";
import { faultPoint } from "../fault-points.js";
import { keepPrevious, type KeptSummary } from "../restore/keep-previous.js";
import type { ObjectStore } from "../store/object-store.js";
import { decryptionFor } from "../encryption/names.js";
import type { DatabaseProperties } from "../pg/database-properties.js";
import { finishStaging } from "../restore/staging-fixups.js";
import type { Prepared, RestoreDeps, RestoreOptions, RestorePlan, RestoreResult } from "./restore.js";

/** The run's cancellation (a signal aborts it), progress lines and holds; torn down once, at the end. */
export function startRun(
  set: CompleteBackupSet,
  plan: RestorePlan,
  settings: RestoreSettings,
  deps: RestoreDeps,
  ids: { log: Logger; runId: string },
) {
  const { database, media } = plan;
  const { log, runId } = ids;
  const cancel = new AbortController();
  const onSignal = () => cancel.abort(new InterruptedError((deps.signal?.reason as NodeJS.Signals) ?? "SIGTERM"));
  deps.signal?.addEventListener("abort", onSignal, { once: true });
  const ctx = {
    store: deps.store,
    setPrefix: setKey(set.tier, set.backupId),
    signal: cancel.signal,
    decrypt: decryptionFor(set.manifest, deps.identity),
    transfers: settings.env.MEDIA_STORE_TRANSFERS,
  };
  const total = (database?.entry.bytes ?? 0) + (media?.entry.bytes ?? 0);
  // One line per part: bytes downloaded and verified on their way into pg_restore / tar.
  const progress = startProgress({ log, intervalMs: settings.progressIntervalMs, area: deps.area });
  const dbLine = database && progress.track("database", { stage: "pg_restore", total: database.entry.bytes });
  const mediaLine = media && progress.track("media", { stage: "extract", total: media.entry.bytes });
  log.info(
    {
      stage: "start",
      database: database?.target,
      mediaDir: media?.dir,
      runId,
    },
    "restore started",
  );
  return { log, cancel, onSignal, ctx, total, progress, dbLine, mediaLine, hold: undefined as RunHold | undefined };
}

type Run = ReturnType<typeof startRun>;

/** The run's holds on its staging sites, so no cleanup of another run takes them meanwhile. */
export async function holdRunCopies(plan: RestorePlan, runId: string, layout: Prepared["layout"]): Promise<RunHold> {
  const { database, media } = plan;
  // A missing target is created by the restore; its parent must exist for the staging holder.
  if (media && layout === "beside") await mkdir(path.dirname(media.dir), { recursive: true });
  // The cleanup before has just swept these sites: the run only takes its holds (a drill, which
  // has no cleanup, sweeps in holdAndSweep).
  return holdRun(runId, {
    connection: database?.connection,
    avoid: database ? [database.target] : [],
    folders: media && layout ? [copyPath("staging", media.dir, runId, layout)] : [],
  });
}

/** What the staging and the swaps left: the swaps done, and what each part counted. */
interface Staged {
  staging?: MediaStaging;
  dbSwap?: DatabaseSwap;
  mediaSwap?: MediaSwap;
  counts?: Awaited<ReturnType<typeof restoreDatabasePart>>;
  tally?: Awaited<ReturnType<typeof restoreMediaPart>>;
  properties?: DatabaseProperties;
}

/**
 * Both parts restored into staging copies and verified, then swapped in (database first). On any
 * failure the staging copies go, the run is torn down and the live targets are as they were (or
 * a PartialSwapError says exactly what is where).
 */
export async function stageAndSwap(
  set: CompleteBackupSet,
  plan: RestorePlan,
  settings: RestoreSettings,
  options: RestoreOptions,
  state: { run: Run; prepared: Prepared; runId: string; log: Logger; teardown: () => Promise<void> },
): Promise<Staged> {
  const { database, media } = plan;
  const { run, prepared, runId, log } = state;
  const { cancel } = run;
  const stagingDb = database && copyDatabaseName("staging", database.target, runId);
  const staged: Staged = {};
  try {
    if (media) staged.staging = await prepareMediaStaging(media.dir, runId, prepared.layout);
    await restoreParts(set, plan, settings, run, prepared, staged, stagingDb);
    if (database && stagingDb && staged.counts) {
      staged.properties = database.entry.properties ?? prepared.checked?.targetProperties;
      await finishStaging(database.connection, stagingDb, database.target, staged.counts, staged.properties, log);
    }
    log.info({ stage: "verified" }, "staging copies match the manifest; swapping them in");
    await swapBoth(set, plan, options, staged, { stagingDb, runId });
    return staged;
  } catch (error) {
    const cause = cancel.signal.aborted && cancel.signal.reason instanceof Error ? cancel.signal.reason : error;
    if (!staged.dbSwap && database && stagingDb)
      await dropDatabase(database.connection, stagingDb).catch(() => undefined);
    if (!staged.mediaSwap) await staged.staging?.discard().catch(() => undefined);
    await state.teardown();
    if (cause instanceof PartialSwapError) {
      log.error({ stage: "failed", error: cause.message }, "restore failed and could not put everything back");
      throw cause;
    }
    log.error(
      { stage: "failed", error: errorMessage(cause) },
      "restore failed; the target database and media folder were left as they were",
    );
    logCauses(log, cause);
    throw cause instanceof RunnerError
      ? cause
      : new RunnerError(`restore failed: ${errorMessage(cause)}`, 1, { cause });
  }
}

/** Restores both parts side by side into their staging copies; the first failure cancels the other. */
async function restoreParts(
  set: CompleteBackupSet,
  plan: RestorePlan,
  settings: RestoreSettings,
  run: Run,
  prepared: Prepared,
  staged: Staged,
  stagingDb: string | undefined,
): Promise<void> {
  const { database, media } = plan;
  const { cancel, ctx, dbLine, mediaLine } = run;
  const { checked, globals } = prepared;
  const fail = (error: unknown) => {
    if (!cancel.signal.aborted) cancel.abort(error);
    throw error;
  };
  // Both parts settle before anything else happens, so no part is still creating its staging
  // copy while a failure is being cleaned up.
  const [dbPart, mediaPart] = await Promise.allSettled([
    database && stagingDb
      ? restoreDatabasePart(
          { ...ctx, onMeter: (m: DigestMeter) => dbLine?.follow(m) },
          database.entry,
          database.connection,
          stagingDb,
          settings.pgBinDir,
          {
            checkRowCounts: !set.manifest.importedFrom,
            scratch: database.scratch,
            owners: checked && {
              keep: checked.ownership.keepOwners,
              subscriptions: checked.ownership.superuser,
              noTablespaces: globals?.noTablespaces,
            },
            databaseOwner: database.entry.properties?.owner,
            onWarning: (warning) => run.log.warn({ stage: "pg_restore", warning }, `pg_restore: ${warning}`),
          },
        )
          .then((counts) => (dbLine?.finish("verified"), counts))
          .catch(fail)
      : undefined,
    media && staged.staging
      ? restoreMediaPart(
          { ...ctx, onMeter: (m: DigestMeter) => mediaLine?.follow(m) },
          media.entry,
          staged.staging.dir,
          media.selection,
        )
          .then((tally) => (mediaLine?.finish("verified"), tally))
          .catch(fail)
      : undefined,
  ]);
  if (cancel.signal.aborted) throw cancel.signal.reason;
  staged.counts = dbPart.status === "fulfilled" ? dbPart.value : undefined;
  staged.tally = mediaPart.status === "fulfilled" ? mediaPart.value : undefined;
}

/**
 * Each swap either completes or puts its own half back before it throws. The database goes
 * first; when the media swap fails, the database swap is undone, so both stay as they were.
 */
async function swapBoth(
  set: CompleteBackupSet,
  plan: RestorePlan,
  options: RestoreOptions,
  staged: Staged,
  ids: { stagingDb: string | undefined; runId: string },
): Promise<void> {
  const { database, media } = plan;
  const { stagingDb, runId } = ids;
  if (database && stagingDb)
    staged.dbSwap = await swapInDatabase(
      database.connection,
      stagingDb,
      database.target,
      runId,
      Boolean(options.terminateConnections),
    );
  if (media && staged.staging) {
    try {
      staged.mediaSwap = await swapInMedia(staged.staging, media.dir, runId, () => faultPoint("restore.media-between"));
    } catch (error) {
      const swapped = staged.dbSwap;
      staged.dbSwap = undefined;
      await swapped?.rollback().catch((back: unknown) => {
        throw new PartialSwapError(
          `the media swap failed (${errorMessage(error)}) and the database swap could not be undone (${errorMessage(back)}): database ${database?.target} now holds backup ${set.backupId}, its previous contents are in ${swapped.previous ?? "(none)"}; the media folder ${media.dir} was left as it was`,
        );
      });
      throw error;
    }
  }
}

/**
 * Both halves are in place: the restore is complete whatever happens next. With a keep window,
 * the previous copies stay (with the counts recorded now, which an undo verifies) for
 * `undo-restore`. Otherwise removing them is cleanup; each is tried on its own, and one that
 * cannot be removed is reported (and listed by `status`), not turned into a failure of a
 * restore that happened.
 */
export async function settlePrevious(
  set: CompleteBackupSet,
  plan: RestorePlan,
  staged: Staged,
  keep: { runId: string; keepHours: number },
  deps: { markerStore: ObjectStore | undefined; log: Logger },
): Promise<{ leftovers: string[]; kept: KeptSummary | undefined }> {
  const { database, media } = plan;
  const { dbSwap, mediaSwap } = staged;
  const { log } = deps;
  const leftovers: string[] = [];
  let kept: KeptSummary | undefined;
  if (keep.keepHours > 0 && (dbSwap?.previous || mediaSwap?.previous)) {
    kept = await keepPrevious(
      { runId: keep.runId, replacedBy: `${set.tier}/${set.backupId}`, hours: keep.keepHours },
      { connection: database?.connection, target: database?.target, previous: dbSwap?.previous },
      { target: media?.dir, previous: mediaSwap?.previous, layout: staged.staging?.layout },
      deps.markerStore,
      log,
    );
  } else {
    const commits = await Promise.allSettled([dbSwap?.commit(), mediaSwap?.commit()]);
    commits.forEach((c, i) => {
      if (c.status === "fulfilled") return;
      const where = i === 0 ? `database ${dbSwap?.previous}` : `folder ${mediaSwap?.previous}`;
      leftovers.push(where);
      log.warn(
        { stage: "cleanup", previous: where, error: errorMessage(c.reason) },
        `the restore is complete, but the previous copy (${where}) could not be removed; remove it by hand (edms-backup status lists it)`,
      );
    });
  }
  return { leftovers, kept };
}

export function logRestoreDone(log: Logger, set: CompleteBackupSet, result: RestoreResult, bytesRate: number): void {
  const { kept, leftovers } = result;
  log.info(
    {
      stage: "done",
      database: result.database,
      media: result.media,
      seconds: result.seconds,
      rate: bytesRate,
      leftovers: leftovers.length ? leftovers : undefined,
      kept,
    },
    kept
      ? `restore of ${set.tier}/${set.backupId} complete; the replaced copies are kept until ${kept.keepUntil} (edms-backup undo-restore puts them back)`
      : `restore of ${set.tier}/${set.backupId} complete`,
  );
}
