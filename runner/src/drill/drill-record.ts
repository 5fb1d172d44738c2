/**
 * What a drill leaves for `status`: one small JSON object per drill under `drills/`, beside the
 * tier folders (the catalog only reads `<tier>/<backupId>/`, so it never sees them). `status`
 * reads them to publish the age of the last passing drill every few hours, also in the weeks
 * between drills: a CloudWatch alarm looks back 7 days at most, so "no passing drill for 8 days"
 * cannot be watched on the drills' own metrics.
 */
import { text } from "node:stream/consumers";
import { z } from "zod";
import { newMillisecondId } from "../catalog/backup-id.js";
import type { ObjectStore } from "../store/object-store.js";

/** One check of a drill (restored, row counts, files, references...), as reported and recorded. */
export interface DrillCheck {
  name: string;
  ok: boolean;
  detail: string;
}

/**
 * How the drill checked the media: `full` restored every file; `sample` (a store-format set above
 * DRILL_MEDIA_SAMPLE_ABOVE) checked every referenced object's existence and size from one listing
 * and restored `restoredFiles` files chosen at random out of `files`.
 */
export const DRILL_MEDIA_MODES = ["full", "sample"] as const;
export interface DrillMedia {
  mode: (typeof DRILL_MEDIA_MODES)[number];
  /** Regular files in the set (the manifest's count). */
  files: number;
  /** Regular files the drill restored and checked. */
  restoredFiles: number;
  /** Store format: distinct objects the set references, each found with its size (sample mode). */
  objectsChecked?: number;
}

/** What a finished drill reports: the webhook, the metrics and the CLI all read this shape. */
export interface DrillReport {
  backupId: string;
  tier: string;
  ok: boolean;
  restoreSeconds: number;
  checks: DrillCheck[];
  /** Absent for a set without media. */
  media?: DrillMedia;
}

/** One line for people: which media check the drill made. */
export function describeDrillMedia(media: DrillMedia): string {
  return media.mode === "full"
    ? `full: all ${media.files} files restored`
    : `sample: ${media.restoredFiles} of ${media.files} files restored at random; every one of ${media.objectsChecked ?? "the"} referenced objects present with its size`;
}

export const DRILLS_PREFIX = "drills/";
/** How far back `status` reads to find the last passing drill (a year of weekly drills). */
const MAX_RECORDS_READ = 60;

const drillRecordSchema = z.object({
  formatVersion: z.literal(1),
  finishedAt: z.string().datetime(),
  ok: z.boolean(),
  tier: z.string().nullable(),
  backupId: z.string().nullable(),
  /** How long the restore took (absent when the drill could not run, and in older records). */
  restoreSeconds: z.number().nonnegative().optional(),
  /** Which media check it made (absent without media, when it could not run, and in older records). */
  media: z
    .object({
      mode: z.enum(DRILL_MEDIA_MODES),
      files: z.number().int().nonnegative(),
      restoredFiles: z.number().int().nonnegative(),
      objectsChecked: z.number().int().nonnegative().optional(),
    })
    .optional(),
});
export type DrillRecord = z.infer<typeof drillRecordSchema>;

export interface DrillHistory {
  newest?: DrillRecord;
  newestPassing?: DrillRecord;
}

/**
 * `drills/<time-sortable id>.json`; never replaces an earlier record. The id carries the finish
 * time to the millisecond (`20261207T051300.123Z-ab12`): with a backup id's whole seconds, two
 * drills finishing in the same second sorted by their random suffix, so `status` could take a
 * passed drill for the newest over a failed one that came after it.
 */
export async function writeDrillRecord(store: ObjectStore, record: DrillRecord): Promise<string> {
  const key = `${DRILLS_PREFIX}${newMillisecondId(new Date(record.finishedAt))}.json`;
  await store.putSmall(key, `${JSON.stringify(record, null, 2)}\n`, { contentType: "application/json" });
  return key;
}

/** The newest drill and the newest passing one; unreadable records are skipped, not fatal. */
export async function readDrillHistory(store: ObjectStore): Promise<DrillHistory> {
  const keys: string[] = [];
  for await (const object of store.list(DRILLS_PREFIX)) {
    if (object.key.endsWith(".json")) keys.push(object.key);
  }
  keys.sort().reverse();
  const history: DrillHistory = {};
  for (const key of keys.slice(0, MAX_RECORDS_READ)) {
    const parsed = drillRecordSchema.safeParse(
      await text(await store.get(key))
        .then((body) => JSON.parse(body) as unknown)
        .catch(() => undefined),
    );
    if (!parsed.success) continue;
    history.newest ??= parsed.data;
    if (parsed.data.ok) {
      history.newestPassing = parsed.data;
      break;
    }
  }
  return history;
}
