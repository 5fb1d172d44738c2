/**
 * The restore's side of the undo, after the swap: what was kept (with the row counts and file
 * tally an undo verifies, and the fingerprints it compares) and the marker object that tells
 * `status` about it. The markers' format is kept-copies.ts's; the space check before staging is
 * free-space.ts's.
 */
import { errorMessage } from "../errors.js";
import type { Logger } from "../output/logger.js";
import type { PgConnection } from "../pg/connection.js";
import { directoryTally } from "../archive/directory-walk.js";
import type { ObjectStore } from "../store/object-store.js";
import { countRowsIn } from "./database-staging.js";
import { writeFingerprints, writeKeptMarker, type Fingerprints, type KeptRecord } from "./kept-copies.js";
import { fingerprintTree } from "./tree-fingerprint.js";
import type { StagingLayout } from "./media-staging.js";

export interface KeptSummary {
  runId: string;
  database?: string;
  media?: string;
  keepUntil: string;
}

/** Records the previous copies a swap left (counts and tally now, while nothing else touches them). */
export async function keepPrevious(
  run: { runId: string; replacedBy: string; hours: number },
  database: { connection?: PgConnection; target?: string; previous?: string },
  media: { target?: string; previous?: string; layout?: StagingLayout },
  store: ObjectStore | undefined,
  log: Logger,
): Promise<KeptSummary> {
  const now = new Date();
  const keepUntil = new Date(now.getTime() + run.hours * 3_600_000).toISOString();
  const tables =
    database.previous && database.connection ? await countRowsIn(database.connection, database.previous) : undefined;
  const tally = media.previous ? await directoryTally(media.previous) : undefined;
  const record: KeptRecord = {
    formatVersion: 1,
    runId: run.runId,
    keptAt: now.toISOString(),
    keepUntil,
    replacedBy: run.replacedBy,
    database: tables && database.previous ? { target: database.target!, previous: database.previous, tables } : null,
    media:
      tally && media.previous
        ? { target: media.target!, previous: media.previous, layout: media.layout!, ...tally }
        : null,
  };
  if (!store)
    log.warn({ stage: "kept" }, "no destination to write the kept-copy marker to: `status` will not list these copies");
  else {
    // Before the kept marker: whoever sees the marker finds the fingerprints an undo compares.
    await writeFingerprints(store, await fingerprintsNow(run.runId, database, media, log)).catch((error: unknown) =>
      log.warn(
        { stage: "kept", error: errorMessage(error) },
        "could not record the fingerprints of the swapped-in and kept copies: undo-restore will compare only row counts and file tallies",
      ),
    );
    await writeKeptMarker(store, record).catch((error: unknown) =>
      log.warn(
        { stage: "kept", error: errorMessage(error) },
        "could not write the kept-copy marker to the destination: `status` without database and media access will not list these copies, and undo-restore cannot verify them",
      ),
    );
  }
  return { runId: run.runId, database: database.previous, media: media.previous, keepUntil };
}

/**
 * What the run swapped in (row counts; per-entry fingerprints of the folder) and the kept folder's
 * per-entry fingerprints, taken now, right after the swap, before anything else writes.
 */
async function fingerprintsNow(
  runId: string,
  database: { connection?: PgConnection; target?: string; previous?: string },
  media: { target?: string; previous?: string },
  log: Logger,
): Promise<Fingerprints> {
  const tables =
    database.previous && database.connection && database.target
      ? await countRowsIn(database.connection, database.target).catch((error: unknown) => {
          log.warn(
            { stage: "kept", error: errorMessage(error) },
            "could not count the rows of the swapped-in database",
          );
          return undefined;
        })
      : undefined;
  return {
    formatVersion: 1,
    runId,
    installed: {
      database: tables ? { target: database.target!, tables } : null,
      media:
        media.previous && media.target ? { target: media.target, entries: await fingerprintTree(media.target) } : null,
    },
    kept: { media: media.previous ? await fingerprintTree(media.previous) : null },
  };
}
