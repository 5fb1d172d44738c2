/**
 * `undo-restore`: puts back the database and media folder the newest restore of this target kept,
 * after checking them against the row counts and file tally recorded when they were kept. The
 * copies it replaces (the restored ones) are kept in turn, so an undo can itself be undone until
 * `cleanup`.
 *
 * An undo never loses a copy, whichever step it stops at:
 * - Before its first rename it writes a journal (contract: undoJournalKey) naming every copy and
 *   the name each one gets. A rerun after any interruption (SIGKILL included) reads it, looks at
 *   which names exist and finishes the swap; `status` lists an unfinished journal with the command.
 * - A failure inside the swap rolls back what this run swapped (renames only, nothing dropped)
 *   and closes the journal; a failure it cannot roll back leaves the journal open for the rerun.
 * - SIGTERM before the swap stops the run (nothing changed); once the first rename happened the
 *   swap is finished first (renames take milliseconds), as a restore does.
 */
import { newRunId } from "../catalog/backup-id.js";
import type { RestoreSettings } from "../settings/config.js";
import { copyDatabaseName } from "../contract.js";
import { InterruptedError, PartialSwapError, RunnerError, errorMessage } from "../errors.js";
import { faultPoint } from "../fault-points.js";
import type { Logger } from "../output/logger.js";
import type { PgConnection } from "../pg/connection.js";
import { rowCountDifferences } from "../pg/row-counts.js";
import { countRowsIn, existingDatabases, swapInDatabase, type DatabaseSwap } from "../restore/database-staging.js";
import { keepPrevious, type KeptSummary } from "../restore/keep-previous.js";
import {
  readFingerprints,
  readKeptState,
  type Fingerprints,
  unreadableWarning,
  writeReleasedMarker,
  writeUndoJournal,
  type KeptRecord,
  type UndoJournal,
} from "../restore/kept-copies.js";
import { copyPath, swapInMedia, removeTree, type MediaSwap } from "../restore/media-staging.js";
import { finishDatabaseHalf, finishMediaHalf, pathExists, whereCopiesAre } from "../restore/undo-resume.js";
import { acceptRestoreTarget } from "../restore/restore-target.js";
import { directoryTally } from "../archive/directory-walk.js";
import { describeTreeChanges, fingerprintTree, treeChanges } from "../restore/tree-fingerprint.js";
import { AlreadyExistsError, type ObjectStore } from "../store/object-store.js";

export interface UndoOptions {
  databaseOnly?: boolean;
  mediaOnly?: boolean;
  terminateConnections?: boolean;
  /** Undo although the live copies changed since the restore (they are kept like any replaced copy). */
  discardChanges?: boolean;
}

export interface UndoPlan {
  /** The record whose kept copies go back (absent only when a resumed journal's record is gone). */
  record?: KeptRecord;
  undoOf: string;
  replacedBy: string;
  database?: { target: string; kept: string };
  media?: { target: string; kept: string; layout: "beside" | "inside" };
  /** An undo that was interrupted during its swap: this run finishes it. */
  resume?: UndoJournal;
}

/** The command that finishes an unfinished undo (the same settings as the one that started it). */
export const FINISH_UNDO = "edms-backup undo-restore --yes";

/** The newest kept record for this target (or an unfinished undo of it), and which halves go back. */
export async function planUndo(
  settings: RestoreSettings,
  options: UndoOptions,
  store: ObjectStore,
  log?: Logger,
): Promise<UndoPlan> {
  const mediaDir = settings.mediaDir ? (await acceptRestoreTarget(settings.mediaDir, {})).dir : undefined;
  const targetDb = settings.database ? settings.targetDatabase : undefined;
  const state = await readKeptState(store);
  const warning = unreadableWarning(state.unreadable);
  if (warning) log?.warn({ stage: "undo", unreadable: state.unreadable }, warning);
  const ours = (x: { database?: { target: string } | null; media?: { target: string } | null }) =>
    (targetDb !== undefined && x.database?.target === targetDb) ||
    (mediaDir !== undefined && x.media?.target === mediaDir);
  // An interrupted undo comes first, whatever halves this run was asked for: until it is finished
  // the names it swaps are not where any record says.
  const journal = state.unfinished.find(ours);
  if (journal) {
    if (journal.database && !settings.database)
      throw new RunnerError(
        `undo ${journal.runId} of ${journal.replacedBy} was interrupted during its swap and its database half needs the database connection (DATABASE_URL or PG*): rerun undo-restore with the settings it was started with`,
      );
    if (journal.media && journal.media.target !== mediaDir)
      throw new RunnerError(
        `undo ${journal.runId} of ${journal.replacedBy} was interrupted during its swap and its media half needs MEDIA_DIR=${journal.media.target}: rerun undo-restore with the settings it was started with`,
      );
    return {
      record: state.records.find((r) => r.runId === journal.undoOf),
      undoOf: journal.undoOf,
      replacedBy: journal.replacedBy,
      database: journal.database ? { target: journal.database.target, kept: journal.database.kept } : undefined,
      media: journal.media
        ? { target: journal.media.target, kept: journal.media.kept, layout: journal.media.layout }
        : undefined,
      resume: journal,
    };
  }
  const wantDb = !options.mediaOnly ? targetDb : undefined;
  const wantMedia = !options.databaseOnly ? mediaDir : undefined;
  const record = state.records.find(
    (r) =>
      (wantDb !== undefined && r.database?.target === wantDb) ||
      (wantMedia !== undefined && r.media?.target === wantMedia),
  );
  if (!record)
    throw new RunnerError(
      `no kept copy to put back for ${[wantDb && `database ${wantDb}`, wantMedia && `media folder ${wantMedia}`].filter(Boolean).join(" or ")} at ${store.display} (a restore keeps what it replaced for KEEP_PREVIOUS_HOURS unless --no-keep-previous; cleanup drops them)`,
    );
  return {
    record,
    undoOf: record.runId,
    replacedBy: record.replacedBy,
    database:
      wantDb !== undefined && record.database?.target === wantDb
        ? { target: wantDb, kept: record.database.previous }
        : undefined,
    media:
      wantMedia !== undefined && record.media?.target === wantMedia
        ? { target: wantMedia, kept: record.media.previous, layout: record.media.layout }
        : undefined,
  };
}

export function describeUndo(plan: UndoPlan): string {
  const parts = [
    plan.database && `database "${plan.database.target}" with ${plan.database.kept}`,
    plan.media && `media folder ${plan.media.target} with ${plan.media.kept}`,
  ].filter(Boolean);
  if (plan.resume)
    return `Finish the undo of ${plan.replacedBy} that was interrupted during its swap (run ${plan.resume.runId}): replace ${parts.join(" and ")}? The current contents are kept in turn.`;
  return `Undo the restore of ${plan.replacedBy} (${plan.record!.keptAt}): replace ${parts.join(" and ")}? The current contents are kept in turn.`;
}

/** What the record kept that this undo leaves where it is (a partial undo), for the final message. */
function halvesLeft(plan: UndoPlan): string[] {
  const r = plan.record;
  if (!r) return [];
  return [
    r.database && !plan.database
      ? `database ${r.database.target} is still the restored copy; its pre-restore copy stays kept as ${r.database.previous} (undo-restore --database-only puts it back)`
      : undefined,
    r.media && !plan.media
      ? `media folder ${r.media.target} is still the restored copy; its pre-restore copy stays kept as ${r.media.previous} (undo-restore --media-only puts it back)`
      : undefined,
  ].filter((s): s is string => s !== undefined);
}

/**
 * The kept copies must be exactly what the restore recorded, or the undo would put back something
 * else. `only`: the halves still to be swapped (a resumed undo's others have moved already).
 */
async function verifyKept(
  plan: UndoPlan,
  settings: RestoreSettings,
  fingerprints: Fingerprints | undefined,
  only: { database: boolean; media: boolean } = { database: true, media: true },
): Promise<void> {
  const problems: string[] = [];
  const record = plan.record;
  if (only.database && plan.database) {
    const recorded = record?.database;
    if (!recorded) problems.push(`database ${plan.database.kept}: no kept record to check it against`);
    else {
      const counts = await countRowsIn(settings.database!, plan.database.kept).catch((error: unknown) => {
        problems.push(`database ${plan.database!.kept}: ${errorMessage(error)}`);
        return undefined;
      });
      if (counts)
        problems.push(
          ...rowCountDifferences(recorded.tables, counts).map((p) => `database ${plan.database!.kept}: ${p}`),
        );
    }
  }
  if (only.media && plan.media) {
    const recorded = record?.media;
    const tally = await directoryTally(plan.media.kept).catch((error: unknown) => {
      problems.push(`folder ${plan.media!.kept}: ${errorMessage(error)}`);
      return undefined;
    });
    if (!recorded) problems.push(`folder ${plan.media.kept}: no kept record to check it against`);
    else if (tally && (tally.files !== recorded.files || tally.sourceBytes !== recorded.sourceBytes))
      problems.push(
        `folder ${plan.media.kept} holds ${tally.files} files / ${tally.sourceBytes} bytes, ${recorded.files} / ${recorded.sourceBytes} were kept`,
      );
    else if (tally && fingerprints?.kept.media) {
      const changed = describeTreeChanges(treeChanges(fingerprints.kept.media, await fingerprintTree(plan.media.kept)));
      if (changed) problems.push(`folder ${plan.media.kept}: ${changed} since it was kept`);
    }
  }
  if (problems.length)
    throw new RunnerError(`the kept copies changed since they were kept; nothing was swapped: ${problems.join("; ")}`);
}

/**
 * What changed in the live copies since the restore swapped them in (its fingerprints): tables
 * whose row counts differ, entries added, changed or removed. Empty when nothing did, or when the
 * restore recorded no fingerprints (a marker from an older runner: nothing to compare).
 */
async function changesSinceRestore(
  plan: UndoPlan,
  settings: RestoreSettings,
  fingerprints: Fingerprints | undefined,
): Promise<string[]> {
  const changes: string[] = [];
  const db = fingerprints?.installed.database;
  if (plan.database && db && db.target === plan.database.target) {
    const now = await countRowsIn(settings.database!, plan.database.target);
    changes.push(
      ...rowCountDifferences(db.tables, now, "the restore recorded").map(
        (p) => `database ${plan.database!.target}: ${p}`,
      ),
    );
  }
  const media = fingerprints?.installed.media;
  if (plan.media && media && media.target === plan.media.target) {
    const changed = describeTreeChanges(treeChanges(media.entries, await fingerprintTree(plan.media.target)));
    if (changed) changes.push(`media folder ${plan.media.target}: ${changed}`);
  }
  return changes;
}

/** The released markers of what this undo put back: the whole record, or the halves it did. */
async function releasePutBack(plan: UndoPlan, store: ObjectStore, log: Logger): Promise<void> {
  const r = plan.record;
  const whole = !r || ((!r.database || plan.database) && (!r.media || plan.media));
  const parts: Array<"database" | "media" | undefined> = whole
    ? [undefined]
    : ([plan.database ? "database" : undefined, plan.media ? "media" : undefined].filter(Boolean) as Array<
        "database" | "media"
      >);
  for (const part of parts)
    await writeReleasedMarker(store, plan.undoOf, "undo-restore", part).catch((error: unknown) => {
      // A rerun that finishes an undo may find it written already; the finished journal says the same.
      if (!(error instanceof AlreadyExistsError))
        log.warn({ error: errorMessage(error) }, "could not write the released marker");
    });
}

/**
 * What a failure during the swap leaves, as the error to throw. A fresh undo whose every half is
 * back where it was (each swap rolls back its own half; the database half is rolled back here when
 * the media half failed) closes its journal: nothing is left to finish. Otherwise (a rollback that
 * failed too, a resumed undo) the journal stays open and the message says where each copy is and
 * which command finishes.
 */
async function afterSwapFailure(
  error: unknown,
  ctx: {
    plan: UndoPlan;
    journal: UndoJournal;
    dbSwap?: DatabaseSwap;
    mediaSwap?: MediaSwap;
    connection?: PgConnection;
    store: ObjectStore;
    log: Logger;
  },
): Promise<Error> {
  const { journal: j, log } = ctx;
  let clean = !ctx.plan.resume && !(error instanceof PartialSwapError);
  if (clean && ctx.mediaSwap)
    clean = await ctx.mediaSwap.rollback().then(
      () => true,
      (back: unknown) => (log.error({ error: errorMessage(back) }, "could not undo the media half"), false),
    );
  if (clean && ctx.dbSwap)
    // Renames only: the kept copy goes back under its kept name (still listed, still undoable),
    // the restored copy is live again. Nothing is dropped: both are the only copies.
    clean = await ctx.dbSwap.rollback().then(
      () => true,
      (back: unknown) => (log.error({ error: errorMessage(back) }, "could not undo the database half"), false),
    );
  if (clean) {
    await writeReleasedMarker(ctx.store, j.runId, "undo-restore").catch((e: unknown) =>
      log.warn(
        { error: errorMessage(e) },
        "could not close the undo's journal: status will list it until an undo-restore finds nothing to do",
      ),
    );
    if (error instanceof InterruptedError) return error;
    const kept = [
      j.database &&
        `database ${j.database.target} is the restored copy, the pre-restore copy is still kept as ${j.database.kept}`,
      j.media &&
        `media folder ${j.media.target} is the restored copy, the pre-restore copy is still kept as ${j.media.kept}`,
    ].filter(Boolean);
    const message = `undo-restore failed (${errorMessage(error)}); everything was put back and nothing was lost: ${kept.join("; ")}. Fix the cause, then run undo-restore again`;
    log.error({ error: errorMessage(error) }, message);
    return new RunnerError(message, error instanceof RunnerError ? error.exitCode : 1, { cause: error });
  }
  const where = await whereCopiesAre(j, ctx.connection).catch(() => "");
  const message = `the undo stopped during its swap (${errorMessage(error)}); nothing was dropped and its journal records every copy: ${where}. Fix the cause, then run ${FINISH_UNDO} with the same settings to finish it`;
  log.error({ error: errorMessage(error), undoRun: j.runId }, message);
  return new PartialSwapError(message);
}

export async function runUndoRestore(
  plan: UndoPlan,
  settings: RestoreSettings,
  options: UndoOptions,
  deps: { store: ObjectStore; log: Logger; signal?: AbortSignal },
): Promise<KeptSummary & { left: string[] }> {
  const log = deps.log.child({ stage: "undo", keptRun: plan.undoOf });
  const stopIfSignalled = () => {
    if (!deps.signal?.aborted) return;
    const signal = deps.signal.reason as NodeJS.Signals;
    log.warn({ signal }, `interrupted by ${signal} before the swap: nothing was changed`);
    throw new InterruptedError(signal);
  };
  const fingerprints = await readFingerprints(deps.store, plan.undoOf).catch((error: unknown) => {
    log.warn(
      { error: errorMessage(error) },
      "could not read the restore's fingerprints: comparing row counts and file tallies only",
    );
    return undefined;
  });
  const undo: UndoRun = { plan, settings, options, deps, log, fingerprints, stopIfSignalled };
  const j = plan.resume ?? (await startJournal(undo));
  if (plan.resume) log.warn({ undoRun: j.runId }, `finishing undo ${j.runId}, which was interrupted during its swap`);
  await swapKeptIn(undo, j);
  const kept = await keepPrevious(
    { runId: j.runId, replacedBy: `undo of ${plan.undoOf}`, hours: j.keepHours },
    { connection: settings.database ?? undefined, target: j.database?.target, previous: j.database?.displaced },
    { target: j.media?.target, previous: j.media?.displaced, layout: j.media?.layout },
    deps.store,
    log,
  );
  await releasePutBack(plan, deps.store, log);
  const left = halvesLeft(plan);
  log.info(
    { kept, left: left.length ? left : undefined, signal: deps.signal?.aborted ? deps.signal.reason : undefined },
    `undo of ${plan.replacedBy} complete${left.length ? ` for the ${plan.database ? "database" : "media folder"} only: ${left.join("; ")}` : ""}; the replaced copies are kept until ${kept.keepUntil}`,
  );
  return { ...kept, left };
}

/** What the undo's phases share. */
interface UndoRun {
  plan: UndoPlan;
  settings: RestoreSettings;
  options: UndoOptions;
  deps: { store: ObjectStore; log: Logger; signal?: AbortSignal };
  log: Logger;
  fingerprints: Awaited<ReturnType<typeof readFingerprints>> | undefined;
  /** Before the swap, a signal stops the run with nothing changed. */
  stopIfSignalled: () => void;
}

/**
 * A new undo: refused when the live copies changed since the restore (unless --discard-changes),
 * the kept copies verified, then its journal written before anything is renamed.
 */
async function startJournal(undo: UndoRun): Promise<UndoJournal> {
  const { plan, settings, options, deps, log, fingerprints } = undo;
  const changes = await changesSinceRestore(plan, settings, fingerprints);
  if (changes.length && !options.discardChanges)
    throw new RunnerError(
      `the live copies changed since the restore of ${plan.replacedBy}; an undo would set these changes aside: ${changes.join("; ")}. Nothing was swapped. To undo anyway, rerun with --discard-changes (the current contents are then kept like any replaced copy, until cleanup)`,
    );
  if (changes.length)
    log.warn(
      { changes },
      "the live copies changed since the restore; undoing anyway (--discard-changes): the current contents are kept like any replaced copy",
    );
  await verifyKept(plan, settings, fingerprints);
  await faultPoint("undo.verified");
  undo.stopIfSignalled();
  const runId = newRunId();
  const journal: UndoJournal = {
    formatVersion: 1,
    runId,
    startedAt: new Date().toISOString(),
    undoOf: plan.undoOf,
    replacedBy: plan.replacedBy,
    keepHours: settings.keepPreviousHours,
    database: plan.database
      ? { ...plan.database, displaced: copyDatabaseName("previous", plan.database.target, runId) }
      : null,
    media: plan.media
      ? { ...plan.media, displaced: copyPath("previous", plan.media.target, runId, plan.media.layout) }
      : null,
  };
  await writeUndoJournal(deps.store, journal).catch((error: unknown) => {
    throw new RunnerError(
      `could not write the undo's journal to ${deps.store.display} (${errorMessage(error)}); nothing was changed`,
    );
  });
  return journal;
}

/**
 * The kept copies swapped back in, database first (or a resumed undo's halves finished). From the
 * first rename on, a signal no longer stops the run before the swap is complete or rolled back.
 */
async function swapKeptIn(undo: UndoRun, j: UndoJournal): Promise<void> {
  const { plan, settings, options, deps, log, fingerprints } = undo;
  const connection = settings.database ?? undefined;
  const terminate = Boolean(options.terminateConnections);
  const runId = j.runId;
  let started = false;
  const onSignal = () => {
    if (!started) return;
    log.warn(
      { signal: deps.signal?.reason as string },
      `received ${String(deps.signal?.reason)} during the swap: finishing the swap that has started first (if the run is killed anyway, ${FINISH_UNDO} finishes it)`,
    );
  };
  deps.signal?.addEventListener("abort", onSignal, { once: true });
  /** Called right before the first rename of a half: a signal that came earlier stops the run. */
  const startSwap = async () => {
    if (!started) {
      await faultPoint("undo.before-swap");
      if (plan.resume) {
        // Only the halves that have not moved can be checked; the others were checked first time.
        await verifyKept(plan, settings, fingerprints, {
          database: Boolean(j.database && (await existingDatabases(connection!, [j.database.displaced])).size === 0),
          media: Boolean(j.media && !(await pathExists(j.media.displaced))),
        });
      }
      undo.stopIfSignalled();
      started = true;
    }
  };
  let dbSwap: DatabaseSwap | undefined;
  let mediaSwap: MediaSwap | undefined;
  let failed: { error: unknown } | undefined;
  try {
    if (j.database) {
      if (plan.resume) await finishDatabaseHalf(j.database, connection!, runId, terminate, startSwap);
      else {
        await startSwap();
        dbSwap = await swapInDatabase(connection!, j.database.kept, j.database.target, runId, terminate, () =>
          faultPoint("undo.database-between"),
        );
      }
    }
    await faultPoint("undo.media-before");
    if (j.media) {
      if (plan.resume) await finishMediaHalf(j.media, runId, startSwap);
      else {
        await startSwap();
        mediaSwap = await swapInMedia(
          { layout: j.media.layout, dir: j.media.kept, discard: () => removeTree(j.media!.kept) },
          j.media.target,
          runId,
          () => faultPoint("undo.media-between"),
        );
      }
    }
    await faultPoint("undo.after-swap");
  } catch (error) {
    failed = { error };
  }
  // The swap is over either way: a signal from now on is handled like any other.
  deps.signal?.removeEventListener("abort", onSignal);
  if (failed)
    throw await afterSwapFailure(failed.error, {
      plan,
      journal: j,
      dbSwap,
      mediaSwap,
      connection,
      store: deps.store,
      log,
    });
}
