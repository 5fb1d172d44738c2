/**
 * What a finished gc leaves (`store/gc/runs/<id>.json`, one per run, never replaced): what it
 * freed, what it left under Object Lock, and the candidates (unreferenced objects with the time
 * they were first seen unreferenced), which the next gc reads: an object is deleted only by a
 * later run, at least the grace after it was first seen. `status` and the exporter read the
 * newest record. A run killed before its record leaves the previous record in charge, so nothing
 * is decided twice on a half-finished run's word.
 */
import { text } from "node:stream/consumers";
import { z } from "zod";
import { newMillisecondId } from "../catalog/backup-id.js";
import { STORE_GC_PREFIX, STORE_OBJECT_KEY_RE } from "../contract.js";
import type { ObjectStore } from "../store/object-store.js";

export const GC_RUNS_PREFIX = `${STORE_GC_PREFIX}runs/`;
/** How many of the newest records are tried before giving up (a damaged one is skipped). */
const MAX_RECORDS_READ = 10;

const count = z.number().int().nonnegative();
const objectKey = z.string().regex(STORE_OBJECT_KEY_RE, { message: "must be a content object's key" });

export const gcRecordSchema = z.object({
  edmsGcRecord: z.literal(1),
  runId: z.string().min(1),
  startedAt: z.iso.datetime(),
  finishedAt: z.iso.datetime(),
  graceHours: z.number().nonnegative(),
  /** Sets whose object list (or, for older sets, index) was read; sets with nothing to mark. */
  sets: z.object({ marked: count, unmarked: count }),
  /** Content objects listed, their bytes, and how many some set references. */
  store: z.object({ objects: count, bytes: count, referenced: count }),
  deleted: z.object({ objects: count, bytes: count }),
  /** Candidates due for deletion but under Object Lock retention or a legal hold: left alone. */
  locked: z.array(
    z.object({ key: objectKey, retainUntil: z.iso.datetime().optional(), legalHold: z.boolean().optional() }),
  ),
  /** Unreferenced objects not deleted (yet), with when they were first seen unreferenced. */
  candidates: z.array(z.object({ key: objectKey, bytes: count, firstSeen: z.iso.datetime() })),
});
export type GcRecord = z.infer<typeof gcRecordSchema>;

export async function writeGcRecord(store: ObjectStore, record: GcRecord): Promise<string> {
  const key = `${GC_RUNS_PREFIX}${newMillisecondId(new Date(record.finishedAt))}.json`;
  await store.putSmall(key, `${JSON.stringify(record)}\n`, { contentType: "application/json" });
  return key;
}

/** The newest readable record, or undefined when gc never finished. Unreadable ones are skipped. */
export async function readNewestGcRecord(store: ObjectStore): Promise<{ key: string; record: GcRecord } | undefined> {
  const keys: string[] = [];
  for await (const o of store.list(GC_RUNS_PREFIX)) if (o.key.endsWith(".json")) keys.push(o.key);
  keys.sort().reverse();
  for (const key of keys.slice(0, MAX_RECORDS_READ)) {
    const parsed = gcRecordSchema.safeParse(
      await text(await store.get(key))
        .then((body) => JSON.parse(body) as unknown)
        .catch(() => undefined),
    );
    if (parsed.success) return { key, record: parsed.data };
  }
  return undefined;
}

/** What `status` and the exporter show of the newest gc record. */
export interface LastGc {
  finishedAt: string;
  deletedObjects: number;
  deletedBytes: number;
  /** Unreferenced objects not deleted yet (within the grace, or locked). */
  candidates: number;
  lockedSkipped: number;
}

/** The last finished gc, or undefined (never ran, or no store). A read failure is the caller's. */
export async function readLastGc(store: ObjectStore): Promise<LastGc | undefined> {
  const newest = await readNewestGcRecord(store);
  if (!newest) return undefined;
  const r = newest.record;
  return {
    finishedAt: r.finishedAt,
    deletedObjects: r.deleted.objects,
    deletedBytes: r.deleted.bytes,
    candidates: r.candidates.length,
    lockedSkipped: r.locked.length,
  };
}
