/**
 * Finishing an undo-restore that was interrupted during its swap: from its journal (which copies,
 * which names) and which names exist now, each half is found not started, between its renames (or
 * between the two phases of an inside-layout move), or done, and is finished; anything else is
 * reported with what exists, never guessed at.
 */
import { lstat, rename } from "node:fs/promises";
import { RunnerError } from "../errors.js";
import { faultPoint } from "../fault-points.js";
import type { PgConnection } from "../pg/connection.js";
import { existingDatabases, renameDatabase, swapInDatabase } from "./database-staging.js";
import type { UndoJournal } from "./kept-copies.js";
import { finishInsideSwap, removeTree, swapInMedia } from "./media-staging.js";

export async function pathExists(p: string): Promise<boolean> {
  return lstat(p).then(
    () => true,
    () => false,
  );
}

/** Where each copy of an undo's swap is now, by name (for messages). */
export async function whereCopiesAre(journal: UndoJournal, connection: PgConnection | undefined): Promise<string> {
  const out: string[] = [];
  if (journal.database) {
    const { target, kept, displaced } = journal.database;
    const have = connection
      ? await existingDatabases(connection, [target, kept, displaced]).catch(() => undefined)
      : undefined;
    const state = (n: string) => (have ? (have.has(n) ? "exists" : "absent") : "unknown");
    out.push(
      `database ${target} (live name) ${state(target)}, ${kept} (pre-restore copy) ${state(kept)}, ${displaced} (restored copy) ${state(displaced)}`,
    );
  }
  if (journal.media) {
    const { target, kept, displaced } = journal.media;
    const state = async (p: string) => ((await pathExists(p)) ? "exists" : "absent");
    out.push(
      `folder ${target} (live name) ${await state(target)}, ${kept} (pre-restore copy) ${await state(kept)}, ${displaced} (restored copy) ${await state(displaced)}`,
    );
  }
  return out.join("; ");
}

/**
 * Finishes the database half of an interrupted undo from what exists: not started (swap it),
 * between its renames (the kept copy goes to the live name), or done.
 */
export async function finishDatabaseHalf(
  j: NonNullable<UndoJournal["database"]>,
  connection: PgConnection,
  runId: string,
  terminate: boolean,
  startSwap: () => Promise<void>,
): Promise<void> {
  const have = await existingDatabases(connection, [j.target, j.kept, j.displaced]);
  const [t, k, d] = [have.has(j.target), have.has(j.kept), have.has(j.displaced)];
  if (t && k && !d) {
    await startSwap();
    await swapInDatabase(connection, j.kept, j.target, runId, terminate, () => faultPoint("undo.database-between"));
  } else if (!t && k && d) await renameDatabase(connection, j.kept, j.target);
  else if (!(t && !k && d))
    throw new RunnerError(
      `cannot tell how far the database half got: ${j.target} ${t ? "exists" : "absent"}, ${j.kept} ${k ? "exists" : "absent"}, ${j.displaced} ${d ? "exists" : "absent"}; check them and rename by hand (docs/RUNBOOK.md, section 5a)`,
    );
}

/** The same for the media half (folder renames beside the target; entries moved inside it). */
export async function finishMediaHalf(
  j: NonNullable<UndoJournal["media"]>,
  runId: string,
  startSwap: () => Promise<void>,
): Promise<void> {
  const [t, k, d] = await Promise.all([pathExists(j.target), pathExists(j.kept), pathExists(j.displaced)]);
  const notStarted = j.layout === "beside" ? t && k && !d : k && !d;
  const done = j.layout === "beside" ? t && !k && d : !k && d;
  if (notStarted) {
    await startSwap();
    await swapInMedia({ layout: j.layout, dir: j.kept, discard: () => removeTree(j.kept) }, j.target, runId, () =>
      faultPoint("undo.media-between"),
    );
  } else if (j.layout === "beside" && !t && k && d) await rename(j.kept, j.target);
  else if (j.layout === "inside" && k && d && (await finishInsideSwap(j.kept, j.target))) return;
  else if (!done)
    throw new RunnerError(
      j.layout === "inside" && k && d
        ? `the media swap inside ${j.target} was interrupted while moving entries: the restored entries moved so far are in ${j.displaced}, the pre-restore entries not yet moved back are in ${j.kept}. Finish by hand: move the remaining restored entries of ${j.target} (all but names starting with ".edms-") into ${j.displaced}, then every entry of ${j.kept} into ${j.target}, then rmdir ${j.kept}`
        : `cannot tell how far the media half got: ${j.target} ${t ? "exists" : "absent"}, ${j.kept} ${k ? "exists" : "absent"}, ${j.displaced} ${d ? "exists" : "absent"}; check them and move by hand (docs/RUNBOOK.md, section 5a)`,
    );
}
