/**
 * gc's mark: the content objects some set may use. Read from:
 * - every complete store-format set's segment list (checked against its manifest's size and
 *   sha256): its chunks, and the keys in its object-list chunks (each checked against the list's
 *   sha256; a chunk another set shares is read once a gc run). Sets written before segments: their
 *   object list (checked the same way), or before object lists, their index (plain; an encrypted
 *   index only with the age identity);
 * - every segment list or object list of an incomplete set, whatever its age (a backup between
 *   its list and its manifest, or one that died there: its list keeps its objects until the set
 *   folder is gone).
 * A set that is complete but cannot be read this way stops every delete (a blocker): the safe
 * side is to free nothing. Sets are immutable once read, so a re-mark (each new gc lease) reads
 * only sets it has not read yet.
 *
 * Marks go into the catalog of the store's listing (its `used` flag, one byte an object): a key
 * no set names is unreferenced, a referenced key gc never listed has nothing to free. Memory is
 * then ~42 bytes per stored object whatever the sets reference, where a Set of the referenced key
 * strings cost ~150 bytes a key (1.5 GB at 10 M objects; BENCHMARKS.md, "gc of the content store").
 */
import type { Readable } from "node:stream";
import { text } from "node:stream/consumers";
import { groupIntoSets, setKey } from "../catalog/catalog.js";
import { MANIFEST_OBJECT, TIERS } from "../contract.js";
import { errorMessage } from "../errors.js";
import { parseManifest, type Manifest } from "../catalog/manifest.js";
import type { Logger } from "../output/logger.js";
import type { ChildSource } from "../stages/child-source.js";
import type { ObjectStore, StoredObject } from "../store/object-store.js";
import type { ObjectCatalog } from "./object-catalog.js";
import { STORE_OBJECT_KEY_RE } from "../contract.js";
import { RunnerError } from "../errors.js";
import { OBJECT_LIST_OBJECT, readObjectList } from "./object-list.js";
import { readIndex } from "./store-reader.js";
import { objectsCodec, readChunk, readChunksInOrder } from "./segment-chunks.js";
import { CHUNK_KINDS, SEGMENT_LIST_OBJECT, type ChunkRef } from "./segment-list.js";
import { linesOfChunk, readSegmentList } from "./segment-reader.js";

export interface MarkState {
  /** The store's content objects as gc listed them; an object some set references is marked used. */
  catalog: ObjectCatalog;
  /** `<tier>/<backupId>` of the sets read (their references are marked in `catalog`). */
  read: Set<string>;
  /** Sets whose objects were marked; tar sets; incomplete sets without a list (at the last mark). */
  marked: number;
  tar: number;
  waiting: number;
  /** Why nothing may be deleted: one line per set gc cannot read. */
  blockers: string[];
  /** Object-list chunks whose keys are marked already (sets share most of their chunks). */
  chunksRead: Set<string>;
}

/** A mark into `catalog` (the listing gc judges: every candidate is in it). */
export function newMarkState(catalog: ObjectCatalog): MarkState {
  return { catalog, read: new Set(), marked: 0, tar: 0, waiting: 0, blockers: [], chunksRead: new Set() };
}

export interface MarkOptions {
  /** Decrypts an encrypted index (the age identity), for sets written before object lists. */
  decrypt?: (input: Readable) => ChildSource;
  /** Warns of an incomplete set's chunk that is gone (markSegments). */
  log?: Logger;
}

/** The manifest, or undefined when it does not parse or names another set (the set is then incomplete). */
async function manifestOf(store: ObjectStore, prefix: string, backupId: string): Promise<Manifest | undefined> {
  const where = `${prefix}/${MANIFEST_OBJECT}`;
  // A read that fails (the network) fails gc; only a manifest that does not parse is "incomplete".
  const body = await text(await store.get(where));
  try {
    const manifest = parseManifest(body, where);
    return manifest.backupId === backupId ? manifest : undefined;
  } catch {
    return undefined;
  }
}

async function markFrom(state: MarkState, keys: AsyncIterable<string>): Promise<void> {
  for await (const key of keys) state.catalog.markUsed(key);
}

async function* objectsOfIndex(
  store: ObjectStore,
  prefix: string,
  manifest: Manifest,
  options: MarkOptions,
): AsyncGenerator<string> {
  const decrypt = manifest.encryption ? options.decrypt : undefined;
  for await (const e of readIndex({ store, setPrefix: prefix, backupId: manifest.backupId, decrypt }, manifest.media!))
    if (e.type === "file" && e.object) yield e.object;
}

/**
 * A set in segments: its chunks, and the keys its object-list chunks name. An incomplete set's
 * (no `expected`) object-list chunk that is not in the store is passed over: a list is stored only
 * after every chunk it names, so the chunk was deleted since (gc under a backup that reused it, the
 * race gc-lease.ts settles), and that backup's check before its manifest fails on it: no manifest
 * will ever need the keys in it. Blocking on it instead stopped every gc until the dead set's folder
 * expired, since a changed tree never stores that chunk again.
 */
async function markSegments(
  store: ObjectStore,
  state: MarkState,
  set: { setPrefix: string; backupId: string },
  expected?: { bytes: number; sha256: string },
  log?: Logger,
): Promise<void> {
  const segments = await readSegmentList({ store, ...set }, expected);
  for (const segment of segments) for (const kind of CHUNK_KINDS) state.catalog.markUsed(segment[kind].key);
  const unread = [...new Set(segments.map((s) => s.objects))].filter((ref) => !state.chunksRead.has(ref.key));
  const where = `${set.setPrefix}/${SEGMENT_LIST_OBJECT}`;
  const gone = new Set<string>();
  const read = async (ref: ChunkRef): Promise<Buffer> => {
    try {
      return await readChunk(store, ref, objectsCodec, where);
    } catch (error) {
      if (expected || (await store.head(ref.key))) throw error;
      log?.warn(
        { set: set.setPrefix, chunk: ref.key },
        `${where}: object-list chunk ${ref.key} is gone; the set is incomplete and can never get a manifest, so gc passes over it`,
      );
      gone.add(ref.key);
      return Buffer.alloc(0);
    }
  };
  let i = 0;
  for await (const chunk of readChunksInOrder(unread, read)) {
    if (gone.has(unread[i]!.key)) {
      i += 1;
      continue; // not read: a complete set naming it reads it itself (and blocks)
    }
    for (const key of linesOfChunk(chunk)) {
      if (!STORE_OBJECT_KEY_RE.test(key))
        throw new RunnerError(`${where}: object-list chunk ${unread[i]!.key} names ${key}, not a content object`);
      state.catalog.markUsed(key);
    }
    state.chunksRead.add(unread[i]!.key);
    i += 1;
  }
}

/** One set: marks what it references, or records why it cannot (a blocker). */
async function markSet(
  store: ObjectStore,
  state: MarkState,
  set: { prefix: string; backupId: string; objects: readonly StoredObject[] },
  options: MarkOptions,
): Promise<void> {
  const { prefix, backupId } = set;
  const has = (name: string) => set.objects.some((o) => o.key === `${prefix}/${name}`);
  const manifest = has(MANIFEST_OBJECT) ? await manifestOf(store, prefix, backupId) : undefined;
  const hasList = has(OBJECT_LIST_OBJECT);
  try {
    if (manifest?.media?.format === "store") {
      if (manifest.media.layout === "segments") {
        await markSegments(store, state, { setPrefix: prefix, backupId }, manifest.media);
      } else if (manifest.media.objectList) {
        await markFrom(state, readObjectList(store, prefix, backupId, manifest.media.objectList));
      } else if (manifest.encryption && !options.decrypt) {
        state.blockers.push(
          `${prefix} was written before sets had an object list and its media index is encrypted: ` +
            "give gc the age identity (AGE_IDENTITY_FILE) to read it, or wait until the set has expired",
        );
        return;
      } else {
        await markFrom(state, objectsOfIndex(store, prefix, manifest, options));
      }
    } else if (manifest) {
      state.tar += 1; // a tar set: nothing in the store
      state.read.add(prefix);
      return;
    } else if (has(SEGMENT_LIST_OBJECT)) {
      // An incomplete set (running, or died after its segment list): all it can reference.
      await markSegments(store, state, { setPrefix: prefix, backupId }, undefined, options.log);
    } else if (hasList) {
      // An incomplete set (running, or died after its list): its list is all it can reference.
      await markFrom(state, readObjectList(store, prefix, backupId));
    } else {
      state.waiting += 1; // running before its list, or died before it: looked at again next mark
      return;
    }
  } catch (error) {
    state.blockers.push(
      `${prefix}: its object list could not be read (${errorMessage(error)}); run \`edms-backup verify ${backupId}\` and fix or remove the set`,
    );
    return;
  }
  state.marked += 1;
  state.read.add(prefix);
}

/** Lists every tier's sets and marks the ones not read yet. */
export async function markReferences(store: ObjectStore, state: MarkState, options: MarkOptions = {}): Promise<void> {
  state.waiting = 0;
  for (const tier of TIERS) {
    const objects: StoredObject[] = [];
    for await (const o of store.list(`${tier}/`)) objects.push(o);
    for (const set of groupIntoSets(objects).values()) {
      const prefix = setKey(set.tier, set.backupId);
      if (state.read.has(prefix)) continue;
      await markSet(store, state, { prefix, backupId: set.backupId, objects: set.objects }, options);
    }
  }
}
