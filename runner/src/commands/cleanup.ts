/**
 * `cleanup`: removes what restores and drills left beside a database and a media folder:
 * - staging copies no live run holds (the same rule and the same sweep every restore and drill
 *   runs first: `sweepStaleStaging`);
 * - previous copies a restore kept for an undo, once they were kept longer than the window, and
 *   only when a kept marker names them: a previous copy without one was left by a run killed
 *   between its two renames and may be the only copy of the old data, so it stays for a person
 *   (status lists it; docs/RUNBOOK.md).
 * `restore` runs the same cleanup for its own target before it checks free space.
 */
import { errorMessage } from "../errors.js";
import type { Logger } from "../output/logger.js";
import type { PgConnection } from "../pg/connection.js";
import {
  readKeptState,
  unreadableWarning,
  writeReleasedMarker,
  type KeptRecord,
  type UndoJournal,
} from "../restore/kept-copies.js";
import {
  findRunCopies,
  isStaleStaging,
  mediaCopySites,
  removeRunCopy,
  sweepStaleStaging,
  type CopySites,
  type RunCopy,
} from "../restore/run-copies.js";
import type { ObjectStore } from "../store/object-store.js";

export interface CleanupTargets {
  connection?: PgConnection;
  database?: string;
  mediaDir?: string;
}

/** One key for a copy, whether found on disk or named by a kept record. */
const copyKey = (where: RunCopy["where"], name: string): string => `${where}:${name}`;
const keyOf = (c: RunCopy): string => copyKey(c.where, c.name);

/** Whether cleanup of `targets` can see each part a kept record names (and so tell it is gone). */
function recordParts(record: KeptRecord, targets: CleanupTargets): { database: boolean; media: boolean } {
  return {
    database: Boolean(targets.connection && record.database && record.database.target === targets.database),
    media: Boolean(record.media && record.media.target === targets.mediaDir),
  };
}

/**
 * Records an unfinished undo is swapping (its own and the one it puts back): their copies may be
 * under each other's names until a rerun finishes it, so cleanup leaves them alone.
 */
export function withoutUnfinishedUndos(
  records: readonly KeptRecord[],
  unfinished: readonly UndoJournal[],
): KeptRecord[] {
  const busy = new Set(unfinished.flatMap((j) => [j.runId, j.undoOf]));
  return records.filter((r) => !busy.has(r.runId));
}

/**
 * Pure: the kept previous copies that go. A copy goes when a record for these targets names it,
 * its keep window is over (the record's own `keepUntil`, the time the restore printed; or, with
 * `--older-than`, it was kept at least that many hours ago), and no live run holds the copy.
 */
export function expiredKeptCopies(
  found: readonly RunCopy[],
  records: readonly KeptRecord[],
  targets: CleanupTargets,
  now: Date,
  olderThanHours?: number,
): RunCopy[] {
  const due = new Set<string>();
  for (const r of records) {
    const expired =
      olderThanHours === undefined
        ? now.getTime() >= Date.parse(r.keepUntil)
        : now.getTime() - Date.parse(r.keptAt) >= olderThanHours * 3_600_000;
    if (!expired) continue;
    const parts = recordParts(r, targets);
    if (parts.database) due.add(copyKey("database", r.database!.previous));
    if (parts.media) due.add(copyKey("folder", r.media!.previous));
  }
  return found.filter((c) => c.kind === "previous" && !c.held && due.has(keyOf(c)));
}

/**
 * Pure: the records whose every copy is gone (each part looked for and not found), so a released
 * marker can tell `status` (which sees neither database nor volume) that nothing is kept any more.
 */
export function releasedRecords(
  remaining: readonly RunCopy[],
  records: readonly KeptRecord[],
  targets: CleanupTargets,
): KeptRecord[] {
  const present = new Set(remaining.map(keyOf));
  return records.filter((r) => {
    const parts = recordParts(r, targets);
    if ((r.database && !parts.database) || (r.media && !parts.media)) return false;
    return (
      !(r.database && present.has(copyKey("database", r.database.previous))) &&
      !(r.media && present.has(copyKey("folder", r.media.previous)))
    );
  });
}

/**
 * Pure: the previous copies that stay because their keep window is not over yet, each with the
 * time it ends (what `cleanup` says when it has nothing to do; `--older-than 0` drops them now).
 */
export function stillKept(
  remaining: readonly RunCopy[],
  records: readonly KeptRecord[],
  targets: CleanupTargets,
): Array<{ copy: RunCopy; keepUntil: string }> {
  const until = new Map<string, string>();
  for (const r of records) {
    const parts = recordParts(r, targets);
    if (parts.database) until.set(copyKey("database", r.database!.previous), r.keepUntil);
    if (parts.media) until.set(copyKey("folder", r.media!.previous), r.keepUntil);
  }
  return remaining.flatMap((copy) => {
    const keepUntil = copy.kind === "previous" ? until.get(keyOf(copy)) : undefined;
    return keepUntil ? [{ copy, keepUntil }] : [];
  });
}

export interface CleanupResult {
  removed: RunCopy[];
  kept: RunCopy[];
  /** Kept previous copies whose window is not over (see stillKept). */
  waiting: Array<{ copy: RunCopy; keepUntil: string }>;
}

export async function runCleanup(
  targets: CleanupTargets,
  /** olderThanHours: `--older-than`; without it each record's own keepUntil decides. */
  options: { olderThanHours?: number; dryRun?: boolean; now?: Date },
  deps: { log: Logger; store?: ObjectStore },
): Promise<CleanupResult> {
  const sites: CopySites = {
    connection: targets.connection,
    // The maintenance session must not sit in the database a restore is about to replace.
    avoid: targets.database ? [targets.database] : [],
    folders: targets.mediaDir ? mediaCopySites(targets.mediaDir) : [],
  };
  const found = await findRunCopies(sites);
  // Without the markers nothing says a previous copy was kept on purpose: none is removed.
  let records: KeptRecord[] = [];
  if (deps.store) {
    const state = await readKeptState(deps.store).catch((error: unknown) => {
      deps.log.warn(
        { stage: "cleanup", error: errorMessage(error) },
        "could not read the kept-copy markers: previous copies are left in place",
      );
      return undefined;
    });
    const warning = state && unreadableWarning(state.unreadable);
    if (warning) deps.log.warn({ stage: "cleanup", unreadable: state.unreadable }, warning);
    if (state?.unfinished.length)
      deps.log.warn(
        { stage: "cleanup", undoRuns: state.unfinished.map((j) => j.runId) },
        "an undo-restore was interrupted during its swap: its copies are left in place until `edms-backup undo-restore --yes` finishes it",
      );
    records = state ? withoutUnfinishedUndos(state.records, state.unfinished) : [];
  }
  const expired = expiredKeptCopies(found, records, targets, options.now ?? new Date(), options.olderThanHours);
  if (options.dryRun) {
    const removed = [...found.filter(isStaleStaging), ...expired];
    const kept = found.filter((c) => !removed.includes(c));
    return { removed, kept, waiting: stillKept(kept, records, targets) };
  }
  const removed = await sweepStaleStaging(sites, deps.log, found);
  for (const copy of expired) {
    try {
      await removeRunCopy(copy, targets.connection);
      removed.push(copy);
      deps.log.info(
        { stage: "cleanup", kind: copy.kind, copy: copy.name },
        `removed the kept ${copy.where} ${copy.name}`,
      );
    } catch (error) {
      deps.log.warn({ stage: "cleanup", copy: copy.name, error: errorMessage(error) }, `could not remove ${copy.name}`);
    }
  }
  const gone = new Set(removed.map(keyOf));
  const remaining = found.filter((c) => !gone.has(keyOf(c)));
  if (deps.store)
    for (const r of releasedRecords(remaining, records, targets))
      await writeReleasedMarker(deps.store, r.runId, "cleanup").catch((error: unknown) =>
        deps.log.warn(
          { stage: "cleanup", runId: r.runId, error: errorMessage(error) },
          "could not write the cleanup marker",
        ),
      );
  return { removed, kept: remaining, waiting: stillKept(remaining, records, targets) };
}
