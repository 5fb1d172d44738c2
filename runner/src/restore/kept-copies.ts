/**
 * What a restore keeps for an undo: the replaced database and media folder under the contract's
 * previous-copy names, and a marker object in the destination describing them (row counts, file
 * tally) so an undo can verify them before swapping and `status` can list them without reaching
 * the database or the media. Finding the copies themselves is run-copies.ts's job.
 */
import { text } from "node:stream/consumers";
import { z } from "zod";
import { RESTORE_MARKERS_PREFIX, keptMarkerKey, releasedMarkerKey } from "../contract.js";
import { tableRowCountSchema } from "../manifest.js";
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

export async function writeKeptMarker(store: ObjectStore, record: KeptRecord): Promise<void> {
  await store.putSmall(keptMarkerKey(record.runId), `${JSON.stringify(keptRecordSchema.parse(record), null, 2)}\n`, {
    contentType: "application/json",
  });
}

export async function writeReleasedMarker(
  store: ObjectStore,
  runId: string,
  by: z.infer<typeof releasedSchema>["by"],
): Promise<void> {
  const body = releasedSchema.parse({ formatVersion: 1, runId, releasedAt: new Date().toISOString(), by });
  await store.putSmall(releasedMarkerKey(runId), `${JSON.stringify(body)}\n`, { contentType: "application/json" });
}

/** Kept records whose copies no marker says were released, newest first. */
export async function openKeptRecords(store: ObjectStore): Promise<KeptRecord[]> {
  const kept = new Map<string, string>();
  const released = new Set<string>();
  for await (const object of store.list(`${RESTORE_MARKERS_PREFIX}/`)) {
    const name = object.key.slice(RESTORE_MARKERS_PREFIX.length + 1);
    const m = /^(.+)\.(kept|released)\.json$/.exec(name);
    if (!m) continue;
    if (m[2] === "kept") kept.set(m[1]!, object.key);
    else released.add(m[1]!);
  }
  const records: KeptRecord[] = [];
  for (const [runId, key] of kept) {
    if (released.has(runId)) continue;
    const parsed = keptRecordSchema.safeParse(JSON.parse(await text(await store.get(key))));
    if (parsed.success) records.push(parsed.data);
  }
  return records.sort((a, b) => (a.runId < b.runId ? 1 : -1));
}
