/**
 * What the media store costs and saves, for `status` and the exporter: the content objects under
 * store/objects/ (count and bytes, from a listing), what the newest complete store-format set
 * references, and the dedup ratio.
 *
 * The dedup ratio is the media bytes the complete store-format sets hold (the sum of each set's
 * `media.sourceBytes`: its files' bytes, each content once per inode), over the bytes stored under
 * store/objects/: how many times over the store would be needed if every set kept its own full
 * copy, as a tar set does. 1 means no saving; 30 daily sets of a tree that hardly changes approach
 * 30. Every number comes from manifests and the listing: nothing needs an index, so encrypted sets
 * (whose index only an identity opens) are counted like the others.
 */
import { MANIFEST_OBJECT, STORE_OBJECT_KEY_RE, STORE_OBJECTS_PREFIX, objectName, type Tier } from "../contract.js";
import type { Manifest } from "./manifest.js";
import { setKey, setOfKey } from "./catalog.js";
import type { StoredObject } from "../store/object-store.js";

export interface StoreUsage {
  /** Content objects under store/objects/, and their stored bytes. */
  objects: number;
  storedBytes: number;
  /** The newest complete store-format set (any tier) and the objects it references. */
  newest?: {
    tier: Tier;
    backupId: string;
    objects: number;
    /** null: the set did not record it (written before the runner recorded `media.store.objectBytes`). */
    bytes: number | null;
  };
  /** Complete store-format sets, and the media bytes they hold together (sum of media.sourceBytes). */
  sets: number;
  setsSourceBytes: number;
  /** setsSourceBytes / storedBytes; null while nothing is stored. */
  dedupRatio: number | null;
}

/** A set in segments holds its segment list where older sets held their index. */
const SEGMENT_LIST = objectName("segments");

/**
 * Tallies a listing (any prefix that covers store/objects/ and the set folders) as it streams by:
 * the content objects' count and bytes (the sets' metadata chunks among them), and which sets are
 * complete store-format sets (a manifest and a media index or segment list in their folder),
 * without keeping the content objects' keys.
 */
export class StoreTally {
  objects = 0;
  storedBytes = 0;
  private readonly sets = new Map<string, { tier: Tier; backupId: string; manifest: boolean; index: boolean }>();

  add(object: StoredObject): void {
    if (object.key.startsWith(STORE_OBJECTS_PREFIX)) {
      if (STORE_OBJECT_KEY_RE.test(object.key)) {
        this.objects += 1;
        this.storedBytes += object.bytes;
      }
      return;
    }
    const owner = setOfKey(object.key);
    if (!owner) return;
    const name = object.key.slice(setKey(owner.tier, owner.backupId).length + 1);
    const key = setKey(owner.tier, owner.backupId);
    const set = this.sets.get(key) ?? { ...owner, manifest: false, index: false };
    if (name === MANIFEST_OBJECT) set.manifest = true;
    if (name.startsWith("media-index.") || name === SEGMENT_LIST) set.index = true;
    this.sets.set(key, set);
  }

  /** Sets with a manifest and a media index in the listing (their manifests say whether they are valid). */
  storeSets(): Array<{ tier: Tier; backupId: string }> {
    return [...this.sets.values()]
      .filter((s) => s.manifest && s.index)
      .map(({ tier, backupId }) => ({ tier, backupId }))
      .sort((a, b) => (a.backupId < b.backupId ? -1 : a.backupId > b.backupId ? 1 : 0));
  }
}

/** The usage from a tally and the manifests of its store sets (unreadable ones left out). */
export function assessStoreUsage(
  tally: Pick<StoreTally, "objects" | "storedBytes">,
  manifests: readonly Manifest[],
): StoreUsage {
  const store = manifests.filter((m) => m.media?.format === "store");
  let newest: Manifest | undefined;
  for (const m of store) if (!newest || m.startedAt > newest.startedAt) newest = m;
  const setsSourceBytes = store.reduce((sum, m) => sum + (m.media?.sourceBytes ?? 0), 0);
  return {
    objects: tally.objects,
    storedBytes: tally.storedBytes,
    ...(newest
      ? {
          newest: {
            tier: newest.tier,
            backupId: newest.backupId,
            // Its metadata chunks are content objects too (absent before segments: 0).
            objects: (newest.media?.store?.objects ?? 0) + (newest.media?.store?.chunks ?? 0),
            bytes:
              newest.media?.store?.objectBytes === undefined
                ? null
                : newest.media.store.objectBytes + (newest.media.store.chunkBytes ?? 0),
          },
        }
      : {}),
    sets: store.length,
    setsSourceBytes,
    dedupRatio: tally.storedBytes > 0 ? setsSourceBytes / tally.storedBytes : null,
  };
}
