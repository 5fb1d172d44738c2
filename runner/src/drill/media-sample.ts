/**
 * The drill of a large store-format set (DRILL_MEDIA_SAMPLE_ABOVE): instead of restoring every
 * file, it checks that every object the set references exists with its recorded size (one listing
 * of the store, as `verify` does), then restores a uniformly random sample of the set's regular
 * files (reservoir sampling over the index, so memory is the sample, not the set) with the same
 * code as `restore --path`: each object's size and sha256 checked, the folders above it created.
 * The sample is new at every drill, so over weeks the drills touch ever more of the store.
 */
import { randomInt } from "node:crypto";
import type { Readable } from "node:stream";
import { inspectDirectory } from "../archive/directory-walk.js";
import type { MediaEntry } from "../catalog/manifest.js";
import { DEFAULT_DRILL_SAMPLE_FILES, type ParsedRunnerEnv } from "../contract.js";
import type { ChildSource } from "../stages/child-source.js";
import type { ObjectStore } from "../store/object-store.js";
import { PathSelection } from "../media-store/path-selection.js";
import { verifyStoreMedia } from "../media-store/store-reader.js";
import { PathSet } from "../references/media-paths.js";
import { restoreMediaPart } from "../restore/restore-parts.js";
import { formatBytes } from "../output/format.js";
import type { DrillCheck, DrillMedia } from "./drill-record.js";

export interface SamplePlan {
  /** DRILL_MEDIA_SAMPLE_ABOVE, bytes. */
  above: number;
  /** Regular files to restore. */
  files: number;
}

/**
 * Whether this set's drill samples: a store-format set whose media holds more than the threshold
 * and more files than the sample (otherwise the sample would be every file anyway).
 */
export function samplePlan(
  entry: MediaEntry,
  env: Pick<ParsedRunnerEnv, "DRILL_MEDIA_SAMPLE_ABOVE" | "DRILL_MEDIA_SAMPLE_FILES">,
): SamplePlan | undefined {
  const above = env.DRILL_MEDIA_SAMPLE_ABOVE;
  const files = env.DRILL_MEDIA_SAMPLE_FILES ?? DEFAULT_DRILL_SAMPLE_FILES;
  if (entry.format !== "store" || above === undefined) return undefined;
  if (entry.sourceBytes <= above || entry.files <= files) return undefined;
  return { above, files };
}

/** Algorithm R: after any number of offers, each item offered is kept with the same probability. */
export class Reservoir<T> {
  private readonly kept: T[] = [];
  private seen = 0;
  constructor(private readonly size: number) {}

  offer(item: T): void {
    this.seen += 1;
    if (this.kept.length < this.size) this.kept.push(item);
    else {
      const slot = randomInt(0, this.seen);
      if (slot < this.size) this.kept[slot] = item;
    }
  }

  get items(): readonly T[] {
    return this.kept;
  }
}

export interface SampleContext {
  store: ObjectStore;
  setPrefix: string;
  backupId: string;
  signal?: AbortSignal;
  decrypt?: (input: Readable) => ChildSource;
  transfers?: number;
}

/**
 * Runs the sampling drill's media part into the empty folder `dir`. Returns its check and, when
 * `withNames`, the set's regular file names (for the reference check, which cannot walk a sample).
 */
export async function drillMediaSample(
  ctx: SampleContext,
  entry: MediaEntry,
  dir: string,
  plan: SamplePlan,
  withNames: boolean,
): Promise<{ check: DrillCheck; media: DrillMedia; names?: PathSet }> {
  const reservoir = new Reservoir<Buffer>(plan.files);
  const names = withNames ? new PathSet() : undefined;
  const objects = entry.store?.objects;
  const why = `media ${formatBytes(entry.sourceBytes)} > DRILL_MEDIA_SAMPLE_ABOVE ${formatBytes(plan.above)}`;
  const problems = await verifyStoreMedia(ctx, entry, {
    full: false,
    onEntry: (e) => {
      if (e.type !== "file" && e.type !== "hardlink") return;
      reservoir.offer(e.name);
      names?.add(e.name);
    },
  });
  const media: DrillMedia = { mode: "sample", files: entry.files, restoredFiles: 0, objectsChecked: objects };
  if (problems.length)
    return {
      check: { name: "media", ok: false, detail: `sample drill (${why}): objects: ${problems.join("; ")}` },
      media,
    };
  const tally = await restoreMediaPart(ctx, entry, dir, new PathSelection(reservoir.items));
  const selected = tally.selected ?? { files: 0, bytes: 0 };
  const onDisk = (await inspectDirectory(dir)).tally;
  const ok = onDisk.files === selected.files && onDisk.sourceBytes === selected.bytes;
  media.restoredFiles = onDisk.files;
  return {
    check: {
      name: "media",
      ok,
      detail:
        `sample drill (${why}): ${selected.files} of ${entry.files} files chosen at random restored and checked (size, sha256), ` +
        `${onDisk.files} files / ${onDisk.sourceBytes} bytes on disk; ` +
        `every one of ${objects ?? "the"} referenced objects present with its size (one listing)`,
    },
    media,
    names,
  };
}
