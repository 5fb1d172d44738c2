/**
 * The exporter's sources: each reads one part of the destination and owns its gauges. A source
 * computes everything first and then swaps its gauges' values in one synchronous step, so a scrape
 * never sees half a refresh. A source that fails keeps its last values (an alert must not go quiet
 * because the bucket could not be read) and counts a scrape error, which has its own alert.
 *
 * The media store's source (stored bytes, dedup ratio, as `edms_backup_store_*`; gc's figures
 * belong there too) reads what `status` reads (catalog/store-usage.ts).
 */
import { Gauge, type Registry } from "prom-client";
import * as n from "../prometheus-names.js";
import type { ExporterSourceName } from "../prometheus-names.js";
import { unreadableWarning } from "../restore/kept-copies.js";
import type { StatusSettings } from "../catalog/staleness.js";
import type { ObjectStore } from "../store/object-store.js";
import { readLastGc } from "../media-store/gc-record.js";
import {
  readBackupSets,
  readDrills,
  readKeptCopies,
  readStoreUsage,
  readUnfinishedUploads,
  type StoreListing,
  type ManifestCache,
  type TierReading,
} from "./readings.js";

export interface SourceContext {
  store: ObjectStore;
  settings: StatusSettings;
  now: Date;
}

export interface ExporterSource {
  name: ExporterSourceName;
  /** Reads the destination and sets the source's gauges; throws, gauges untouched, when it cannot. */
  refresh(context: SourceContext): Promise<void>;
}

/** Gauges without labels: prom-client gives them a value of 0 until removed (see clear). */
const unlabelled = new WeakSet<Gauge>();

function gauge(registry: Registry, name: string, help: string, labelNames: string[] = []): Gauge {
  const g = new Gauge({ name, help, labelNames, registers: [registry] });
  if (labelNames.length === 0) unlabelled.add(g);
  return clear(g);
}

/**
 * No value at all, rather than prom-client's 0 for a gauge without labels: "no drill yet" must be
 * an absent series, or an alert on `== 0` would fire on a stack that never drilled.
 */
function clear(g: Gauge): Gauge {
  g.reset();
  if (unlabelled.has(g)) g.remove();
  return g;
}

function backupSetsSource(registry: Registry): ExporterSource {
  const tier = ["tier"];
  const g = {
    lastSuccess: gauge(
      registry,
      n.LAST_SUCCESS_TIMESTAMP,
      "When the newest complete backup of the tier finished.",
      tier,
    ),
    duration: gauge(registry, n.LAST_SUCCESS_DURATION, "How long the newest complete backup of the tier took.", tier),
    bytes: gauge(
      registry,
      n.LAST_SUCCESS_BYTES,
      "Stored bytes of the newest complete backup: component database (the dump), media (the archive), stored (every object of the set).",
      ["tier", "component"],
    ),
    sourceBytes: gauge(
      registry,
      n.LAST_SUCCESS_MEDIA_SOURCE_BYTES,
      "Bytes of the media files the newest complete backup holds.",
      tier,
    ),
    files: gauge(registry, n.LAST_SUCCESS_MEDIA_FILES, "Media files the newest complete backup holds.", tier),
    missing: gauge(
      registry,
      n.LAST_SUCCESS_MISSING_MEDIA_FILES,
      "Referenced media files (MEDIA_REFERENCES) the newest complete backup lacks; absent when not checked.",
      tier,
    ),
    complete: gauge(
      registry,
      n.COMPLETE_SETS,
      "Complete backup sets (with a valid manifest) at the destination.",
      tier,
    ),
    incomplete: gauge(
      registry,
      n.INCOMPLETE_SETS,
      "Backup sets without a valid manifest: a run still going, or one that died.",
      tier,
    ),
    maxAge: gauge(registry, n.MAX_AGE, "A watched tier's schedule interval plus grace: older is stale.", tier),
    deadline: gauge(
      registry,
      n.DEADLINE_TIMESTAMP,
      "When a watched tier is overdue: newest complete backup's start + interval + grace, or its first scheduled run + grace (0: overdue now).",
      tier,
    ),
  };
  const cache: ManifestCache = new Map();
  return {
    name: "backup_sets",
    async refresh({ store, settings, now }) {
      const readings = await readBackupSets(store, settings, now, cache);
      for (const one of Object.values(g)) clear(one);
      for (const r of readings) setTier(g, r);
    },
  };
}

function setTier(g: Record<string, Gauge>, r: TierReading): void {
  const tier = { tier: r.tier };
  g.complete!.set(tier, r.completeSets);
  g.incomplete!.set(tier, r.incompleteSets);
  if (r.maxAgeSeconds !== undefined) g.maxAge!.set(tier, r.maxAgeSeconds);
  if (r.deadline !== undefined) g.deadline!.set(tier, r.deadline);
  const s = r.newest;
  if (!s) return;
  g.lastSuccess!.set(tier, s.finishedAt);
  g.duration!.set(tier, s.durationSeconds);
  for (const component of ["database", "media", "stored"] as const) {
    const bytes = s.bytes[component];
    if (bytes !== undefined) g.bytes!.set({ ...tier, component }, bytes);
  }
  if (s.mediaSourceBytes !== undefined) g.sourceBytes!.set(tier, s.mediaSourceBytes);
  if (s.mediaFiles !== undefined) g.files!.set(tier, s.mediaFiles);
  if (s.missingMediaFiles !== undefined) g.missing!.set(tier, s.missingMediaFiles);
}

function drillsSource(registry: Registry): ExporterSource {
  const g = {
    last: gauge(registry, n.DRILL_LAST_TIMESTAMP, "When the last restore drill finished."),
    success: gauge(
      registry,
      n.DRILL_LAST_SUCCESS,
      "1 when the last restore drill passed, 0 when it failed or could not run.",
    ),
    restore: gauge(registry, n.DRILL_LAST_RESTORE, "How long the last restore drill's restore took."),
    passed: gauge(registry, n.DRILL_LAST_PASS_TIMESTAMP, "When the last passing restore drill finished."),
    maxAge: gauge(registry, n.DRILL_MAX_AGE, "How old the last passing drill may be (STATUS_DRILL_MAX_AGE_HOURS)."),
    deadline: gauge(
      registry,
      n.DRILL_DEADLINE_TIMESTAMP,
      "When the drill is overdue: last passing drill + max age, or its first scheduled run + grace (0: overdue now).",
    ),
  };
  return {
    name: "drills",
    async refresh({ store, settings }) {
      const r = await readDrills(store, settings);
      for (const one of Object.values(g)) clear(one);
      if (r.last) {
        g.last.set(r.last.finishedAt);
        g.success.set(r.last.ok ? 1 : 0);
        if (r.last.restoreSeconds !== undefined) g.restore.set(r.last.restoreSeconds);
      }
      if (r.lastPassedAt !== undefined) g.passed.set(r.lastPassedAt);
      if (r.maxAgeSeconds !== undefined) g.maxAge.set(r.maxAgeSeconds);
      if (r.deadline !== undefined) g.deadline.set(r.deadline);
    },
  };
}

function keptCopiesSource(registry: Registry): ExporterSource {
  const copies = gauge(
    registry,
    n.KEPT_COPIES,
    "Copies restores kept for an undo, not released yet (edms-backup cleanup drops them).",
    ["component"],
  );
  const bytes = gauge(
    registry,
    n.KEPT_COPY_BYTES,
    "Bytes of the kept copies (media folders; a database's size is not recorded).",
    ["component"],
  );
  return {
    name: "kept_copies",
    async refresh({ store }) {
      const r = await readKeptCopies(store);
      copies.set({ component: "database" }, r.databases);
      copies.set({ component: "media" }, r.mediaFolders);
      bytes.set({ component: "media" }, r.mediaBytes);
      // The readable markers are counted; an unreadable one needs a person: a scrape error names it.
      const warning = unreadableWarning(r.unreadable);
      if (warning) throw new Error(warning);
    },
  };
}

function uploadsSource(registry: Registry): ExporterSource {
  const count = gauge(
    registry,
    n.UNFINISHED_UPLOADS,
    "Unfinished multipart uploads of the runner's layout (runs killed mid-upload).",
  );
  const bytes = gauge(registry, n.UNFINISHED_UPLOAD_BYTES, "Bytes the unfinished multipart uploads' parts hold.");
  return {
    name: "unfinished_uploads",
    async refresh({ store, now }) {
      const r = await readUnfinishedUploads(store, now);
      count.set(r.count);
      bytes.set(r.bytes);
    },
  };
}

function mediaStoreSource(registry: Registry): ExporterSource {
  const g = {
    objects: gauge(registry, n.STORE_OBJECTS, "Content objects in the media store (store/objects/)."),
    stored: gauge(registry, n.STORE_STORED_BYTES, "Bytes of every content object in the media store."),
    newest: gauge(
      registry,
      n.STORE_NEWEST_SET_BYTES,
      "Bytes of the content objects the newest complete store-format set references (absent when it did not record them).",
    ),
    setsSource: gauge(
      registry,
      n.STORE_SETS_SOURCE_BYTES,
      "Media bytes all complete store-format sets hold together (their files' bytes): what full copies would take.",
    ),
    ratio: gauge(
      registry,
      n.STORE_DEDUP_RATIO,
      "Media bytes the complete store-format sets hold over the bytes stored: what deduplication saves.",
    ),
    gcLast: gauge(registry, n.STORE_GC_LAST_TIMESTAMP, "When the media store's last gc finished."),
    gcDeleted: gauge(registry, n.STORE_GC_DELETED_BYTES, "Bytes of the content objects the last gc deleted."),
    gcCandidates: gauge(
      registry,
      n.STORE_GC_CANDIDATES,
      "Unreferenced content objects the last gc left (within the grace, or under Object Lock).",
    ),
    gcLocked: gauge(registry, n.STORE_GC_LOCKED, "Due content objects the last gc left alone under Object Lock."),
  };
  const cache: ManifestCache = new Map();
  let listing: StoreListing | undefined;
  return {
    name: "media_store",
    async refresh({ store, now }) {
      const read = await readStoreUsage(store, now, cache, listing);
      const gc = await readLastGc(store);
      listing = read.listing;
      for (const one of Object.values(g)) clear(one);
      if (gc) {
        g.gcLast.set(Date.parse(gc.finishedAt) / 1000);
        g.gcDeleted.set(gc.deletedBytes);
        g.gcCandidates.set(gc.candidates);
        g.gcLocked.set(gc.lockedSkipped);
      }
      const u = read.usage;
      if (!u) return;
      g.objects.set(u.objects);
      g.stored.set(u.storedBytes);
      if (u.newest && u.newest.bytes !== null) g.newest.set(u.newest.bytes);
      g.setsSource.set(u.setsSourceBytes);
      if (u.dedupRatio !== null) g.ratio.set(u.dedupRatio);
    },
  };
}

/** Every source, in refresh order. */
export function exporterSources(registry: Registry): ExporterSource[] {
  return [
    backupSetsSource(registry),
    drillsSource(registry),
    keptCopiesSource(registry),
    uploadsSource(registry),
    mediaStoreSource(registry),
  ];
}
