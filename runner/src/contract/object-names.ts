/**
 * Names in the destination: a set's objects and manifest versions, the content store's keys, gc's
 * prefix, the restore's marker objects. Part of the runner contract (../contract.ts): zod only.
 */
import type { Compression } from "./compression.js";

/**
 * How a set's media is written: one tar archive, or an index into the shared content store. The
 * store is the default (a backup uploads only what changed); tar stays for a single portable
 * archive (MEDIA_FORMAT=tar). Sets of both formats are always read.
 */
export const MEDIA_FORMATS = ["tar", "store"] as const;
export type MediaFormat = (typeof MEDIA_FORMATS)[number];
export const DEFAULT_MEDIA_FORMAT: MediaFormat = "store";

/**
 * The content store (MEDIA_FORMAT=store), under the destination's prefix beside the tier folders:
 * `store/objects/<2 hex>/<64 hex>[.age]`, one object per distinct file content (and per set of
 * recipients when encrypted), named by the keyed hash (MEDIA_STORE_KEY). Nothing in a set's
 * folder lives here, so tier lifecycle rules never expire content objects: `gc` frees them, with
 * an identity that may delete under STORE_OBJECTS_PREFIX and nowhere else.
 */
export const STORE_PREFIX = "store";
export const STORE_OBJECTS_PREFIX = `${STORE_PREFIX}/objects/`;
/**
 * The store key of an unencrypted destination whose backups were given none (MEDIA_STORE_KEY
 * unset): made by the first store backup, read by the next (media-store/destination-key.ts).
 */
export const STORE_DESTINATION_KEY = `${STORE_PREFIX}/names-key`;
/** The runner command that deletes unreferenced content objects (its own CronJob and identity). */
export const STORE_GC_COMMAND = "gc";
/** The runner command the stack's deploy-check Job runs (components/schedule/deploy-check.ts). */
export const DEPLOY_CHECK_COMMAND = "check-deploy";
export const DEFAULT_STORE_GC_GRACE_HOURS = 48;
/**
 * What gc writes (and nothing else writes): its run records (`runs/`, read by status and the next
 * gc) and its leases (`leases/`, listed by backups before they write a manifest). The gc role may
 * put and read here; nobody may delete.
 */
export const STORE_GC_PREFIX = `${STORE_PREFIX}/gc/`;
/** A content object's key (relative to the destination) for its keyed name (64 hex digits). */
export function storeObjectKey(name: string, encrypted: boolean): string {
  return `${STORE_OBJECTS_PREFIX}${name.slice(0, 2)}/${name}${encrypted ? ".age" : ""}`;
}
/**
 * Chunk names carry a generation (recorded in the manifest's media.store.chunkGeneration): a set
 * takes the previous set's, so a segment nothing changed in keeps its chunks, and a rehash run (the
 * monthly tier, `--rehash`) starts a new one (its backup id). A chunk is named from its content and
 * never overwritten, so a damaged chunk would otherwise be reused by every later set; a new
 * generation stores every chunk afresh, which bounds how many sets one damaged chunk can spoil and
 * keeps each monthly set's metadata its own.
 */
export const CHUNK_GENERATION_RE = /^[0-9A-Za-z-]{1,64}$/;

/** Matches a content object's key; groups: name, and `.age` when encrypted. */
export const STORE_OBJECT_KEY_RE = /^store\/objects\/([0-9a-f]{2})\/(?<name>\1[0-9a-f]{62})(?<age>\.age)?$/;

/**
 * The manifest format this runner writes. Formats 1 and 2 are still read: every set written since
 * the first release keeps restoring. Format 2 adds `encryption`, plain table/row counts, and keeps
 * table names out of the plain manifest when the set is encrypted. Format 3 adds the dump's
 * `compression` (a zstd dump must be decompressed before pg_restore, which a format-2 reader
 * would not know) and `pgRestoreMin`; a runner that reads only 1 and 2 refuses it by name.
 */
export const MANIFEST_FORMAT_VERSION = 3;
/**
 * Format 4: a set whose media is in the content store (`media.format: "store"`, an index instead
 * of an archive). Written only for such sets, so a tar set stays format 3 and every runner that
 * reads format 3 keeps reading it; one that reads only 1-3 refuses a store set by name instead of
 * handing an index to tar.
 */
export const STORE_MANIFEST_FORMAT_VERSION = 4;
export const READABLE_MANIFEST_FORMATS = [1, 2, 3, 4] as const;

/** The kinds of object inside one backup set. */
export type ObjectKind = "database" | "media" | "index" | "objects" | "segments" | "names" | "manifest";

/** What was done to an object's bytes on their way into the store, in order. */
export interface ObjectTransforms {
  /** The compression of the object's content (media: tar's compressor; database: a stream stage). */
  compression?: Compression;
  /** Encrypted with age for the set's recipients (a `.age` suffix). */
  encrypted?: boolean;
}

const BASE_NAME: Record<ObjectKind, string> = {
  database: "database.dump",
  media: "storage.tar",
  /** The store format's media index: JSON lines, one per entry (docs/MANIFEST.md). */
  index: "media-index.jsonl",
  /**
   * The store format's object list: the content objects the set references, one key a line, plain
   * even in an encrypted set (the keys are what a listing shows anyway), so gc needs no secret.
   */
  objects: "media-objects.txt",
  /**
   * The store format's segment list (media-store/segment-list.ts): the set's index, object list and
   * stat cache as chunks in the store, one line a segment; plain, like the object list it replaces.
   */
  segments: "media-segments.txt",
  names: "names.json",
  manifest: "manifest.json",
};
const COMPRESSION_SUFFIX: Record<Compression, string> = { gzip: ".gz", zstd: ".zst", none: "" };

/**
 * The one place object names are made: the kind's base name, then one suffix per transform in
 * the order they were applied (compression, then encryption), so a name says how to read it back
 * by hand: `database.dump.age` is `age -d | pg_restore`, `storage.tar.zst.age` is
 * `age -d | zstd -d | tar -x`. The manifest itself is never transformed (it is the set's index).
 */
export function objectName(kind: ObjectKind, transforms: ObjectTransforms = {}): string {
  if (kind === "manifest") return BASE_NAME.manifest;
  const compression = transforms.compression ? COMPRESSION_SUFFIX[transforms.compression] : "";
  return `${BASE_NAME[kind]}${compression}${transforms.encrypted ? ".age" : ""}`;
}

export const MANIFEST_OBJECT = objectName("manifest");

/**
 * Marker objects under `<prefix>/restores/`: a restore (or undo) that keeps previous copies writes
 * `<runId>.kept.json` with what it kept and their row counts and file tally; `cleanup` (or an
 * undo that put them back) writes `<runId>.released.json` (`.released.database.json` or
 * `.released.media.json` for one half). The runner cannot delete objects, so a
 * second marker closes the first; `status` reads them where it cannot see the database or media.
 */
export const RESTORE_MARKERS_PREFIX = "restores";
export function keptMarkerKey(runId: string): string {
  return `${RESTORE_MARKERS_PREFIX}/${runId}.kept.json`;
}
/** `part`: only that half of the record was released (a `--database-only` or `--media-only` undo). */
export function releasedMarkerKey(runId: string, part?: "database" | "media"): string {
  return `${RESTORE_MARKERS_PREFIX}/${runId}.released${part ? `.${part}` : ""}.json`;
}
/**
 * `<undo run id>.undo.json`, written by `undo-restore` before its first rename: which copies it
 * swaps and under which names, so a rerun after any interruption (SIGKILL included) can finish the
 * swap and `status` can say one is unfinished. It is finished once `<undo run id>.kept.json` (the
 * swap completed) or `.released.json` (it was rolled back) exists.
 */
/**
 * `<run id>.fingerprints.json`, written with the kept marker: per-table row counts of the database
 * and per-entry size, inode, mtime and ctime of the folder the run swapped in (to tell, at undo,
 * whether they changed since), and the same per entry for the kept folder (to verify it).
 */
export function fingerprintsKey(runId: string): string {
  return `${RESTORE_MARKERS_PREFIX}/${runId}.fingerprints.json`;
}
export function undoJournalKey(runId: string): string {
  return `${RESTORE_MARKERS_PREFIX}/${runId}.undo.json`;
}
