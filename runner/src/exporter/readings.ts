/**
 * What the exporter reads from the destination, as plain data: one function per source, each
 * built on the code `list` and `status` use (catalog, staleness rules, drill records, kept-copy
 * markers, unfinished uploads), so the exporter and `status` cannot disagree about a tier.
 */
import { groupIntoSets, isDatedInFuture, readManifest, type BackupSet } from "../catalog/catalog.js";
import { MANIFEST_OBJECT, STORE_OBJECTS_PREFIX, TIERS, type Tier } from "../contract.js";
import { readDrillHistory } from "../drill/drill-record.js";
import { errorMessage } from "../errors.js";
import type { Manifest } from "../catalog/manifest.js";
import { readKeptState } from "../restore/kept-copies.js";
import { assessStatus, startedAt, type StatusSettings } from "../catalog/staleness.js";
import type { ObjectStore, StoredObject } from "../store/object-store.js";
import { checkUnfinishedUploads } from "../catalog/unfinished-uploads.js";
import { StoreTally, assessStoreUsage, type StoreUsage } from "../catalog/store-usage.js";

const HOUR_S = 3600;
const seconds = (iso: string) => Date.parse(iso) / 1000;

export interface NewestSetReading {
  backupId: string;
  startedAt: number;
  finishedAt: number;
  durationSeconds: number;
  /** Stored bytes: the dump, the media archive, and every object of the set. */
  bytes: { database?: number; media?: number; stored: number };
  mediaSourceBytes?: number;
  mediaFiles?: number;
  missingMediaFiles?: number;
}

export interface TierReading {
  tier: Tier;
  completeSets: number;
  incompleteSets: number;
  newest?: NewestSetReading;
  /** Interval + grace; only for the watched (STATUS_TIERS) scheduled tiers. */
  maxAgeSeconds?: number;
  /** See DEADLINE_TIMESTAMP; only for watched scheduled tiers. */
  deadline?: number;
}

/**
 * Manifests never change once written (a run never overwrites anything), so each is read once per
 * exporter process: a refresh costs one listing per tier plus the manifests of new sets.
 */
export type ManifestCache = Map<string, Manifest>;

/** Every set of every tier, with its manifest when it has a valid one (read once per process). */
async function readSets(store: ObjectStore, cache: ManifestCache): Promise<BackupSet[]> {
  const objects: StoredObject[] = [];
  // One listing per tier folder: never the whole destination (drill records, markers, content).
  for (const tier of TIERS) for await (const object of store.list(`${tier}/`)) objects.push(object);
  const sets: BackupSet[] = [];
  const seen = new Set<string>();
  for (const [key, skeleton] of groupIntoSets(objects)) {
    seen.add(key);
    if (!skeleton.objects.some((o) => o.key.endsWith(`/${MANIFEST_OBJECT}`))) {
      sets.push({ ...skeleton, problem: "no manifest" });
      continue;
    }
    let manifest = cache.get(key);
    if (!manifest) {
      try {
        manifest = await readManifest(store, skeleton.tier, skeleton.backupId);
        cache.set(key, manifest);
      } catch (error) {
        // Unreadable or invalid: incomplete, as `list` says; read again next time.
        sets.push({ ...skeleton, problem: errorMessage(error) });
        continue;
      }
    }
    sets.push({ ...skeleton, manifest });
  }
  for (const key of cache.keys()) if (!seen.has(key)) cache.delete(key); // expired or pruned
  return sets;
}

export async function readBackupSets(
  store: ObjectStore,
  settings: StatusSettings,
  now: Date,
  cache: ManifestCache,
): Promise<TierReading[]> {
  const sets = await readSets(store, cache);
  // Every tier's newest set, judged by `status`'s own rules; deadlines only for the watched tiers.
  const judged = assessStatus(now, sets, { ...settings, tiers: TIERS });
  return judged.tiers.map((t): TierReading => {
    const ofTier = sets.filter((s) => s.tier === t.tier && !isDatedInFuture(s, now));
    const complete = ofTier.filter((s) => s.manifest !== undefined).length;
    const reading: TierReading = { tier: t.tier, completeSets: complete, incompleteSets: ofTier.length - complete };
    const set = t.newestBackupId ? ofTier.find((s) => s.backupId === t.newestBackupId) : undefined;
    if (set?.manifest) reading.newest = newestReading(set as BackupSet & { manifest: Manifest });
    if (settings.tiers.includes(t.tier) && t.maxAgeSeconds !== null) {
      reading.maxAgeSeconds = t.maxAgeSeconds;
      const firstRun = settings.firstRuns?.[t.tier];
      reading.deadline = set
        ? startedAt(set).getTime() / 1000 + t.maxAgeSeconds
        : firstRun
          ? firstRun.getTime() / 1000 + settings.graceHours * HOUR_S
          : 0;
    }
    return reading;
  });
}

function newestReading(set: BackupSet & { manifest: Manifest }): NewestSetReading {
  const m = set.manifest;
  const start = seconds(m.startedAt);
  const finish = seconds(m.finishedAt);
  return {
    backupId: set.backupId,
    startedAt: start,
    finishedAt: finish,
    durationSeconds: Math.max(0, finish - start),
    bytes: { database: m.database?.bytes, media: m.media?.bytes, stored: set.bytes },
    mediaSourceBytes: m.media?.sourceBytes,
    mediaFiles: m.media?.files,
    missingMediaFiles: m.media?.references?.missing,
  };
}

export interface DrillReading {
  last?: { finishedAt: number; ok: boolean; restoreSeconds?: number };
  lastPassedAt?: number;
  /** Only when the drill is watched (STATUS_DRILL_MAX_AGE_HOURS). */
  maxAgeSeconds?: number;
  deadline?: number;
}

export async function readDrills(store: ObjectStore, settings: StatusSettings): Promise<DrillReading> {
  const history = await readDrillHistory(store);
  const reading: DrillReading = {};
  if (history.newest) {
    reading.last = {
      finishedAt: seconds(history.newest.finishedAt),
      ok: history.newest.ok,
      ...(history.newest.restoreSeconds !== undefined ? { restoreSeconds: history.newest.restoreSeconds } : {}),
    };
  }
  if (history.newestPassing) reading.lastPassedAt = seconds(history.newestPassing.finishedAt);
  if (settings.drillMaxAgeHours !== undefined) {
    reading.maxAgeSeconds = settings.drillMaxAgeHours * HOUR_S;
    const firstRun = settings.firstRuns?.drill;
    // assessDrill's rule: never passed yet is judged from the first scheduled drill + grace.
    reading.deadline =
      reading.lastPassedAt !== undefined
        ? reading.lastPassedAt + reading.maxAgeSeconds
        : firstRun
          ? firstRun.getTime() / 1000 + settings.graceHours * HOUR_S
          : 0;
  }
  return reading;
}

export interface KeptReading {
  databases: number;
  mediaFolders: number;
  mediaBytes: number;
  /** Marker objects that could not be read (named in the scrape error). */
  unreadable: string[];
}

export async function readKeptCopies(store: ObjectStore): Promise<KeptReading> {
  const { records, unreadable } = await readKeptState(store);
  return {
    databases: records.filter((r) => r.database).length,
    mediaFolders: records.filter((r) => r.media).length,
    mediaBytes: records.reduce((sum, r) => sum + (r.media?.sourceBytes ?? 0), 0),
    unreadable,
  };
}

export interface UploadsReading {
  count: number;
  bytes: number;
}

export async function readUnfinishedUploads(store: ObjectStore, now: Date): Promise<UploadsReading> {
  const report = await checkUnfinishedUploads(store, now);
  if (report.unfinishedUploadsProblem) throw new Error(report.unfinishedUploadsProblem);
  // A folder (file://) has no multipart uploads: nothing unfinished, by construction.
  return { count: report.unfinishedUploads?.count ?? 0, bytes: report.unfinishedUploads?.bytes ?? 0 };
}

/**
 * Listing every content object costs one request per 1,000 objects, so the store's objects are
 * listed at most this often; the sets' figures (manifests, cached) are read every refresh. Content
 * changes only when a backup or gc runs, hours apart.
 */
export const STORE_LISTING_INTERVAL_MS = 3_600_000;

/** The last listing of store/objects/: when, and its tally. */
export interface StoreListing {
  at: number;
  objects: number;
  storedBytes: number;
}

/**
 * The media store's figures as `status` computes them (assessStoreUsage), or undefined when the
 * destination holds no content object and no store set (the series are then absent).
 */
export async function readStoreUsage(
  store: ObjectStore,
  now: Date,
  cache: ManifestCache,
  last: StoreListing | undefined,
): Promise<{ usage?: StoreUsage; listing: StoreListing }> {
  let listing = last;
  if (!listing || now.getTime() - listing.at >= STORE_LISTING_INTERVAL_MS) {
    const tally = new StoreTally();
    for await (const batch of store.listBatches(STORE_OBJECTS_PREFIX)) for (const object of batch) tally.add(object);
    listing = { at: now.getTime(), objects: tally.objects, storedBytes: tally.storedBytes };
  }
  const manifests = (await readSets(store, cache)).flatMap((s) =>
    s.manifest && !isDatedInFuture(s, now) ? [s.manifest] : [],
  );
  const usage = assessStoreUsage(listing, manifests);
  return { listing, ...(usage.objects > 0 || usage.sets > 0 ? { usage } : {}) };
}
