/**
 * `cleanup`: drops the copies the runner left beside a database and a media folder: previous
 * copies a restore kept for an undo once they are older than the window, and staging copies of
 * runs that were killed. Only names of the contract's patterns are ever touched. `restore` and
 * `drill` run the same cleanup for their own target before they start.
 */
import type { PgConnection } from "../pg/connection.js";
import type { Logger } from "../logger.js";
import { dropDatabase } from "../restore/database-staging.js";
import {
  findCopyDatabases,
  findCopyFolders,
  openKeptRecords,
  writeReleasedMarker,
  type FoundCopy,
} from "../restore/kept-copies.js";
import { removeTree } from "../restore/media-staging.js";
import type { ObjectStore } from "../store/object-store.js";
import { errorMessage } from "../errors.js";

/**
 * A staging copy older than this belongs to a run that died: no Job runs that long (the stack's
 * activeDeadlineSeconds is 4 h), so removing it cannot pull the floor from under a live restore.
 */
export const STALE_STAGING_HOURS = 6;

export interface CleanupTargets {
  connection?: PgConnection;
  database?: string;
  mediaDir?: string;
}

/**
 * Pure: which found copies go, given their age. A previous copy goes only when a finished restore
 * recorded that it kept it (`keptRunIds`, from the marker objects): one without a record was left
 * by a run killed between its two renames and may be the only copy of the old data, so it stays
 * for a person to check (status lists it; docs/RUNBOOK.md).
 */
export function copiesToRemove(
  found: readonly FoundCopy[],
  now: Date,
  olderThanHours: number,
  keptRunIds: ReadonlySet<string>,
): FoundCopy[] {
  const age = (c: FoundCopy) => (now.getTime() - c.startedAt.getTime()) / 3_600_000;
  return found.filter((c) =>
    c.kind === "previous" ? keptRunIds.has(c.runId) && age(c) >= olderThanHours : age(c) >= STALE_STAGING_HOURS,
  );
}

export async function findCopies(targets: CleanupTargets): Promise<FoundCopy[]> {
  const [dbs, folders] = await Promise.all([
    targets.connection && targets.database ? findCopyDatabases(targets.connection, targets.database) : [],
    targets.mediaDir ? findCopyFolders(targets.mediaDir) : [],
  ]);
  return [...dbs, ...folders].sort((a, b) => (a.runId < b.runId ? -1 : 1));
}

export interface CleanupResult {
  removed: FoundCopy[];
  kept: FoundCopy[];
}

export async function runCleanup(
  targets: CleanupTargets,
  options: { olderThanHours: number; dryRun?: boolean; now?: Date },
  deps: { log: Logger; store?: ObjectStore },
): Promise<CleanupResult> {
  const found = await findCopies(targets);
  // Without the markers nothing says a previous copy was kept on purpose: none is removed.
  const keptRunIds = new Set<string>();
  if (deps.store && found.some((c) => c.kind === "previous")) {
    const records = await openKeptRecords(deps.store).catch((error: unknown) => {
      deps.log.warn(
        { stage: "cleanup", error: errorMessage(error) },
        "could not read the kept-copy markers: previous copies are left in place",
      );
      return [];
    });
    for (const r of records) keptRunIds.add(r.runId);
  }
  const remove = copiesToRemove(found, options.now ?? new Date(), options.olderThanHours, keptRunIds);
  const result: CleanupResult = { removed: [], kept: found.filter((c) => !remove.includes(c)) };
  for (const copy of remove) {
    if (options.dryRun) {
      result.removed.push(copy);
      continue;
    }
    try {
      if (copy.what === "database") await dropDatabase(targets.connection!, copy.name);
      else await removeTree(copy.name);
      result.removed.push(copy);
      deps.log.info({ stage: "cleanup", kind: copy.kind, copy: copy.name }, `removed ${copy.kind} copy ${copy.name}`);
    } catch (error) {
      result.kept.push(copy);
      deps.log.warn({ stage: "cleanup", copy: copy.name, error: errorMessage(error) }, `could not remove ${copy.name}`);
    }
  }
  // Tell `status` (which sees neither database nor volume) that a kept restore is gone.
  if (!options.dryRun && deps.store) {
    const gone = new Set(result.removed.filter((c) => c.kind === "previous").map((c) => c.runId));
    for (const c of result.kept) if (c.kind === "previous") gone.delete(c.runId);
    for (const runId of gone)
      await writeReleasedMarker(deps.store, runId, "cleanup").catch((error: unknown) =>
        deps.log.warn({ stage: "cleanup", runId, error: errorMessage(error) }, "could not write the cleanup marker"),
      );
  }
  return result;
}
