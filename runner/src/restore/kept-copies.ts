/**
 * What a restore keeps for an undo: the replaced database and media folder under the contract's
 * previous-copy names, and a marker object in the destination describing them (row counts, file
 * tally) so an undo can verify them before swapping and `status` can list them without reaching
 * the database or the media. Finding the copies themselves is run-copies.ts's job.
 */
import { text } from "node:stream/consumers";
import { z } from "zod";
import {
  RESTORE_MARKERS_PREFIX,
  fingerprintsKey,
  keptMarkerKey,
  releasedMarkerKey,
  undoJournalKey,
} from "../contract.js";
import { tableRowCountSchema } from "../catalog/manifest.js";
import type { ObjectStore } from "../store/object-store.js";

export const keptRecordSchema = z.object({
  formatVersion: z.literal(1),
  runId: z.string(),
  keptAt: z.iso.datetime(),
  keepUntil: z.iso.datetime(),
  /** What replaced the kept copies: a backup set, or an undo. */
  replacedBy: z.string(),
  database: z
    .object({
      target: z.string(),
      previous: z.string(),
      tables: z.array(tableRowCountSchema),
    })
    .nullable(),
  media: z
    .object({
      target: z.string(),
      previous: z.string(),
      layout: z.enum(["beside", "inside"]),
      files: z.number().int().nonnegative(),
      sourceBytes: z.number().int().nonnegative(),
    })
    .nullable(),
});
export type KeptRecord = z.infer<typeof keptRecordSchema>;

const releasedSchema = z.object({
  formatVersion: z.literal(1),
  runId: z.string(),
  releasedAt: z.iso.datetime(),
  by: z.enum(["cleanup", "undo-restore", "restore"]),
});

/** An undo's journal (contract: undoJournalKey): written before its first rename. */
export const undoJournalSchema = z.object({
  formatVersion: z.literal(1),
  /** The undo's run id: the names of the copies it displaces. */
  runId: z.string(),
  startedAt: z.iso.datetime(),
  /** The kept record it puts back, and what that record replaced (for messages). */
  undoOf: z.string(),
  replacedBy: z.string(),
  /** KEEP_PREVIOUS_HOURS of the undo: how long the displaced copies are kept once it finishes. */
  keepHours: z.number().nonnegative(),
  database: z
    .object({
      target: z.string(),
      /** The kept copy going back under `target`. */
      kept: z.string(),
      /** Where the live copy goes (a previous copy of the undo's run). */
      displaced: z.string(),
    })
    .nullable(),
  media: z
    .object({
      target: z.string(),
      kept: z.string(),
      displaced: z.string(),
      layout: z.enum(["beside", "inside"]),
    })
    .nullable(),
});
export type UndoJournal = z.infer<typeof undoJournalSchema>;

type ReleasedBy = z.infer<typeof releasedSchema>["by"];

const entryFingerprintSchema = z.tuple([z.string(), z.string()]).rest(z.string());

/** What a run swapped in and what it kept, to detect changes (contract: fingerprintsKey). */
export const fingerprintsSchema = z.object({
  formatVersion: z.literal(1),
  runId: z.string(),
  installed: z.object({
    database: z.object({ target: z.string(), tables: z.array(tableRowCountSchema) }).nullable(),
    media: z.object({ target: z.string(), entries: z.array(entryFingerprintSchema) }).nullable(),
  }),
  kept: z.object({ media: z.array(entryFingerprintSchema).nullable() }),
});
export type Fingerprints = z.infer<typeof fingerprintsSchema>;

export async function writeFingerprints(store: ObjectStore, fingerprints: Fingerprints): Promise<void> {
  // Compact: it lists every file of the media folder.
  await store.putSmall(fingerprintsKey(fingerprints.runId), JSON.stringify(fingerprintsSchema.parse(fingerprints)), {
    contentType: "application/json",
  });
}

/** The fingerprints of a run, or undefined when it has none (a marker from an older runner). */
export async function readFingerprints(store: ObjectStore, runId: string): Promise<Fingerprints | undefined> {
  const head = await store.head(fingerprintsKey(runId));
  if (!head) return undefined;
  return fingerprintsSchema.parse(await readJson(store, fingerprintsKey(runId)));
}

function putJson(store: ObjectStore, key: string, body: unknown): Promise<void> {
  return store.putSmall(key, `${JSON.stringify(body, null, 2)}\n`, { contentType: "application/json" });
}

export async function writeKeptMarker(store: ObjectStore, record: KeptRecord): Promise<void> {
  await putJson(store, keptMarkerKey(record.runId), keptRecordSchema.parse(record));
}

export async function writeUndoJournal(store: ObjectStore, journal: UndoJournal): Promise<void> {
  await putJson(store, undoJournalKey(journal.runId), undoJournalSchema.parse(journal));
}

/** Closes a record (or one half of it): its copies are no longer kept under its names. */
export async function writeReleasedMarker(
  store: ObjectStore,
  runId: string,
  by: ReleasedBy,
  part?: "database" | "media",
): Promise<void> {
  const body = releasedSchema.parse({ formatVersion: 1, runId, releasedAt: new Date().toISOString(), by });
  await putJson(store, releasedMarkerKey(runId, part), body);
}

/** What the markers say, read once. */
export interface KeptState {
  /** Records with at least one half still kept, newest first (released halves are null). */
  records: KeptRecord[];
  /** Undos that started swapping and neither finished nor rolled back, newest first. */
  unfinished: UndoJournal[];
  /** Marker objects that could not be read or did not parse (skipped; see `warnings`). */
  unreadable: string[];
}

const MARKER_NAME = /^(.+)\.(kept|undo|released(?:\.database|\.media)?)\.json$/;

async function readJson(store: ObjectStore, key: string): Promise<unknown> {
  return JSON.parse(await text(await store.get(key))) as unknown;
}

/**
 * Reads every marker. One that does not parse is skipped and named in `unreadable`, so one bad
 * object never hides the others. A record's halves are released by a released marker, or by a
 * finished undo that put them back (its journal names them), so a run killed between an undo's
 * last two marker writes does not leave the put-back copies listed as kept.
 */
export async function readKeptState(store: ObjectStore): Promise<KeptState> {
  const kept = new Map<string, string>();
  const journals = new Map<string, string>();
  const released = new Map<string, Set<string>>();
  for await (const object of store.list(`${RESTORE_MARKERS_PREFIX}/`)) {
    const m = MARKER_NAME.exec(object.key.slice(RESTORE_MARKERS_PREFIX.length + 1));
    if (!m) continue;
    const [, runId, kind] = m as unknown as [string, string, string];
    if (kind === "kept") kept.set(runId, object.key);
    else if (kind === "undo") journals.set(runId, object.key);
    else {
      const parts = released.get(runId) ?? new Set<string>();
      parts.add(kind === "released" ? "all" : kind.slice("released.".length));
      released.set(runId, parts);
    }
  }
  const unreadable: string[] = [];
  async function parse<T>(key: string, schema: z.ZodType<T>): Promise<T | undefined> {
    try {
      const parsed = schema.safeParse(await readJson(store, key));
      if (parsed.success) return parsed.data;
    } catch {
      // unreadable or not JSON: reported below like a schema mismatch
    }
    unreadable.push(key);
    return undefined;
  }
  const unfinished: UndoJournal[] = [];
  for (const [runId, key] of journals) {
    const done = kept.has(runId) || released.get(runId)?.has("all");
    const journal = await parse(key, undoJournalSchema);
    if (!journal) continue;
    if (!done) unfinished.push(journal);
    else if (kept.has(runId)) {
      // A finished undo released the halves it put back, whatever marker followed.
      const parts = released.get(journal.undoOf) ?? new Set<string>();
      if (journal.database) parts.add("database");
      if (journal.media) parts.add("media");
      released.set(journal.undoOf, parts);
    }
  }
  const records: KeptRecord[] = [];
  for (const [runId, key] of kept) {
    const parts = released.get(runId);
    if (parts?.has("all")) continue;
    const record = await parse(key, keptRecordSchema);
    if (!record) continue;
    const open = {
      ...record,
      database: parts?.has("database") ? null : record.database,
      media: parts?.has("media") ? null : record.media,
    };
    if (open.database || open.media) records.push(open);
  }
  const newestFirst = (a: { runId: string }, b: { runId: string }) => (a.runId < b.runId ? 1 : -1);
  return {
    records: records.sort(newestFirst),
    unfinished: unfinished.sort(newestFirst),
    unreadable: unreadable.sort(),
  };
}

/** One warning line per marker that could not be read (shared by undo, cleanup and status). */
export function unreadableWarning(keys: readonly string[]): string | undefined {
  if (keys.length === 0) return undefined;
  return `skipped ${keys.length} unreadable restore marker(s) (not valid JSON or not a marker this runner knows): ${keys.join(", ")}; check or remove them by hand`;
}
