/**
 * `undo-restore`: puts back the database and media folder the newest restore of this target kept,
 * after checking them against the row counts and file tally recorded when they were kept. The
 * copies it replaces (the restored ones) are kept in turn, so an undo can itself be undone until
 * `cleanup`.
 */
import { newRunId } from "../backup-id.js";
import type { RestoreSettings } from "../config.js";
import { PartialSwapError, RunnerError, errorMessage } from "../errors.js";
import type { Logger } from "../logger.js";
import { rowCountDifferences } from "../pg/row-counts.js";
import { countRowsIn, swapInDatabase, type DatabaseSwap } from "../restore/database-staging.js";
import { keepPrevious, type KeptSummary } from "../restore/keep-previous.js";
import { openKeptRecords, writeReleasedMarker, type KeptRecord } from "../restore/kept-copies.js";
import { swapInMedia, removeTree } from "../restore/media-staging.js";
import { acceptRestoreTarget } from "../restore/restore-target.js";
import { directoryTally } from "../archive/directory-walk.js";
import type { ObjectStore } from "../store/object-store.js";

export interface UndoOptions {
  databaseOnly?: boolean;
  mediaOnly?: boolean;
  terminateConnections?: boolean;
}

export interface UndoPlan {
  record: KeptRecord;
  database?: { target: string; kept: string };
  media?: { target: string; kept: string };
}

/** The newest kept record for this target, and which of its halves this undo swaps back. */
export async function planUndo(settings: RestoreSettings, options: UndoOptions, store: ObjectStore): Promise<UndoPlan> {
  const mediaDir =
    !options.databaseOnly && settings.mediaDir ? (await acceptRestoreTarget(settings.mediaDir, {})).dir : undefined;
  const targetDb = !options.mediaOnly && settings.database ? settings.targetDatabase : undefined;
  const records = await openKeptRecords(store);
  const record = records.find(
    (r) => (targetDb && r.database?.target === targetDb) || (mediaDir && r.media?.target === mediaDir),
  );
  if (!record)
    throw new RunnerError(
      `no kept copy to put back for ${[targetDb && `database ${targetDb}`, mediaDir && `media folder ${mediaDir}`].filter(Boolean).join(" or ")} at ${store.display} (a restore keeps what it replaced for KEEP_PREVIOUS_HOURS unless --no-keep-previous; cleanup drops them)`,
    );
  return {
    record,
    database:
      targetDb && record.database?.target === targetDb
        ? { target: targetDb, kept: record.database.previous }
        : undefined,
    media:
      mediaDir && record.media?.target === mediaDir ? { target: mediaDir, kept: record.media.previous } : undefined,
  };
}

export function describeUndo(plan: UndoPlan): string {
  const parts = [
    plan.database && `database "${plan.database.target}" with ${plan.database.kept}`,
    plan.media && `media folder ${plan.media.target} with ${plan.media.kept}`,
  ].filter(Boolean);
  return `Undo the restore of ${plan.record.replacedBy} (${plan.record.keptAt}): replace ${parts.join(" and ")}? The current contents are kept in turn.`;
}

/** The kept copies must be exactly what the restore recorded, or the undo would put back something else. */
async function verifyKept(plan: UndoPlan, settings: RestoreSettings): Promise<void> {
  const problems: string[] = [];
  if (plan.database) {
    const counts = await countRowsIn(settings.database!, plan.database.kept).catch((error: unknown) => {
      problems.push(`database ${plan.database!.kept}: ${errorMessage(error)}`);
      return undefined;
    });
    if (counts)
      problems.push(
        ...rowCountDifferences(plan.record.database!.tables, counts).map(
          (p) => `database ${plan.database!.kept}: ${p}`,
        ),
      );
  }
  if (plan.media) {
    const recorded = plan.record.media!;
    const tally = await directoryTally(plan.media.kept).catch((error: unknown) => {
      problems.push(`folder ${plan.media!.kept}: ${errorMessage(error)}`);
      return undefined;
    });
    if (tally && (tally.files !== recorded.files || tally.sourceBytes !== recorded.sourceBytes))
      problems.push(
        `folder ${plan.media.kept} holds ${tally.files} files / ${tally.sourceBytes} bytes, ${recorded.files} / ${recorded.sourceBytes} were kept`,
      );
  }
  if (problems.length)
    throw new RunnerError(`the kept copies changed since they were kept; nothing was swapped: ${problems.join("; ")}`);
}

export async function runUndoRestore(
  plan: UndoPlan,
  settings: RestoreSettings,
  options: UndoOptions,
  deps: { store: ObjectStore; log: Logger },
): Promise<KeptSummary> {
  const log = deps.log.child({ stage: "undo", keptRun: plan.record.runId });
  await verifyKept(plan, settings);
  const runId = newRunId();
  let dbSwap: DatabaseSwap | undefined;
  if (plan.database)
    dbSwap = await swapInDatabase(
      settings.database!,
      plan.database.kept,
      plan.database.target,
      runId,
      Boolean(options.terminateConnections),
    );
  let mediaPrevious: string | undefined;
  if (plan.media) {
    const kept = plan.media.kept;
    try {
      const swap = await swapInMedia(
        { layout: plan.record.media!.layout, dir: kept, discard: () => removeTree(kept) },
        plan.media.target,
        runId,
      );
      mediaPrevious = swap.previous;
    } catch (error) {
      // The database half goes back too: the kept copy under its kept name (still listed, still
      // undoable), the restored copy live again. Nothing is dropped: both are the only copies.
      const db = plan.database;
      await dbSwap?.rollback().catch((back: unknown) => {
        throw new PartialSwapError(
          `the media swap failed (${errorMessage(error)}) and the database swap could not be undone (${errorMessage(back)}): database ${db!.target} holds the pre-restore copy, the restored copy is ${dbSwap!.previous}; the media folder ${plan.media!.target} is the restored one and ${kept} the pre-restore one. Nothing was dropped; run undo-restore again once the cause is fixed, or rename by hand (docs/RUNBOOK.md)`,
        );
      });
      throw new RunnerError(
        `the media swap failed (${errorMessage(error)}); the undo was rolled back and nothing was lost: ${[db && `database ${db.target} holds the restored copy again, the pre-restore copy is still kept as ${db.kept}`, `the media folder ${plan.media.target} is the restored one, the pre-restore one is still kept as ${kept}`].filter(Boolean).join("; ")}. Fix the cause, then run undo-restore again`,
        1,
        { cause: error },
      );
    }
  }
  const kept = await keepPrevious(
    { runId, replacedBy: `undo of ${plan.record.runId}`, hours: settings.keepPreviousHours },
    { connection: settings.database ?? undefined, target: plan.database?.target, previous: dbSwap?.previous },
    { target: plan.media?.target, previous: mediaPrevious, layout: plan.record.media?.layout },
    deps.store,
    log,
  );
  const whole =
    Boolean(plan.database) === Boolean(plan.record.database) && Boolean(plan.media) === Boolean(plan.record.media);
  if (whole)
    await writeReleasedMarker(deps.store, plan.record.runId, "undo-restore").catch((error: unknown) =>
      log.warn({ error: errorMessage(error) }, "could not write the released marker"),
    );
  log.info(
    { kept },
    `undo of ${plan.record.replacedBy} complete; the replaced copies are kept until ${kept.keepUntil}`,
  );
  return kept;
}
