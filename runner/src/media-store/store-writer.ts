/**
 * A store-format backup's media part (MEDIA_FORMAT=store): the folder walked in order, each
 * regular file's content stored once under its keyed name (store/objects/...) unless the store
 * already holds it, and the set's metadata (index, stat cache, object list) cut into segments whose
 * chunks are content objects too (segment-list.ts): a segment nothing changed in is reused, so a
 * run stores metadata in proportion to what changed. The set keeps only the segment list. Objects
 * already in the store (from one listing at the start) are reused, so a run after an interrupted
 * one uploads only what the interrupted one had not stored yet.
 *
 * A file is read as file-content.ts says (once to name it, again only to upload a new object,
 * failing the upload when it changed in between); it is read afresh up to READ_ATTEMPTS times.
 */
import { lstat } from "node:fs/promises";
import { Readable, pipeline } from "node:stream";
import type { WalkedEntry } from "../archive/directory-walk.js";
import { walkTreeInWorker } from "../archive/worker-walk.js";
import type { EntryInspector } from "../archive/inspector.js";
import { quoteName } from "../archive/entry-name.js";
import { excludedFromArchive } from "../contract.js";
import { RunnerError } from "../errors.js";
import { choosePartSize } from "../store/part-size.js";
import { DigestMeter } from "../stages/digest-meter.js";
import type { StreamResult, UploadStream } from "../stages/upload-stream.js";
import type { ObjectStore, PutStreamOptions } from "../store/object-store.js";
import { faultPoint } from "../fault-points.js";
import type { Logger } from "../output/logger.js";
import { confirmSet, waitOutGcLeases } from "./gc-lease.js";
import { ReferencedObjects } from "./object-list.js";
import { entryLine, fileEntryLine, typeOfLetter, type IndexEntry } from "./media-index.js";
import { ObjectCatalog } from "./object-catalog.js";
import { ObjectWriter } from "./object-writer.js";
import type { StoreKey } from "./object-names.js";
import { ObjectRetention, type ContentLock, type RetentionStats } from "./object-retention.js";
import { CHUNK_KINDS, segmentLine, segmentListHeader, type Segment } from "./segment-list.js";
import { SegmentWriter } from "./segment-writer.js";
import { writeChunkLocks } from "./chunk-locks.js";
import { recordLine, statMatches, type StatCacheCursor, type StatRecord } from "./stat-cache.js";
import { ContentChanged, readContent } from "./file-content.js";

/**
 * Entries whose lines may wait for an earlier file being stored (a line is ~200 bytes; a file's
 * content is held only while it is in flight, `transfers` at a time).
 */
const PENDING = 1024;

/** Times a file that keeps changing while it is read is tried before the backup fails. */
const READ_ATTEMPTS = 3;

export interface StoreWriteStats extends Partial<RetentionStats> {
  /** Regular files' contents referenced by the index (distinct objects). */
  objects: number;
  /** The stored bytes of those objects (what the set needs kept in the store; `status` shows it). */
  objectBytes: number;
  /** Objects this run uploaded, and their stored bytes. */
  uploadedObjects: number;
  uploadedBytes: number;
  /** Objects found in the store and reused. */
  reusedObjects: number;
  /** Files the previous stat cache showed unchanged, so not read again. */
  unchangedFiles: number;
  /** The set's segments, its distinct metadata chunks and their stored bytes, and those this run uploaded. */
  segments: number;
  chunks: number;
  chunkBytes: number;
  uploadedChunks: number;
  uploadedChunkBytes: number;
  /** The chunk names' generation, when not the first (contract/object-names.ts CHUNK_GENERATION_RE). */
  chunkGeneration?: string;
}

export interface StoreWriteOptions {
  dir: string;
  store: ObjectStore;
  key: StoreKey;
  backupId: string;
  /** The segment list's key, `<tier>/<backupId>/media-segments.txt` (segment-list.ts). */
  segmentListKey: string;
  /** For the wait on a concurrent gc (gc-lease.ts). */
  log?: Logger;
  recipients?: readonly string[];
  transfers: number;
  /** The set's own objects' retention (the segment list). */
  lock?: PutStreamOptions["lock"];
  /** Content objects' retention: new ones get it, reused ones are extended to it (object-retention.ts). */
  contentLock?: ContentLock;
  partSizeMiB?: number;
  /** Judges every entry (unsafe ones, the tally, the reference check's file names). */
  inspector: EntryInspector;
  /**
   * Change detection: the previous set's cache (absent: read every file) and the key sealing this run's.
   * `rehash`: read every file all the same (the cache then only says how long objects are locked).
   * `trustLock`: the cache's lock dates are about this run's object names (same recipients).
   */
  statCache: { previous?: StatCacheCursor; sealKey: Buffer; rehash?: boolean; trustLock?: boolean };
  /**
   * Under Object Lock (chunk-locks.ts): the previous set's chunk dates (trusted as the cache's
   * are), and where this set's go.
   */
  chunkLocks?: { previous?: ReadonlyMap<string, number>; key: string };
  /** The chunk names' generation (SegmentWriter's `generation`); absent: the first one. */
  chunkGeneration?: string;
  /**
   * The store's content objects, listed already (backup.ts starts the listing beside its
   * preflight: read-only, and on S3 it waits on the network); absent: listed here.
   */
  catalog?: Promise<ObjectCatalog>;
  /** The walk of `dir`, started already (startStoreWalk; backup.ts); absent: started here. */
  walk?: Promise<StartedWalk>;
}

/** A store walk whose worker thread is up or coming up, and its first chunk asked for. */
export interface StartedWalk {
  walk: AsyncGenerator<WalkedEntry[]>;
  first: Promise<IteratorResult<WalkedEntry[]>>;
}

/**
 * Starts the store writer's walk of `dir`: its thread comes up (60-100 ms) and walks a few chunks
 * ahead, then waits to be asked. Whoever starts it ends it (`walk.return()`) if no writer takes it.
 */
export function startStoreWalk(dir: string): StartedWalk {
  const walk = walkTreeInWorker(dir, { skipTopLevel: excludedFromArchive });
  const first = walk.next();
  first.catch(() => undefined);
  return { walk, first };
}

export type StoreUpload = UploadStream & { readonly stats: StoreWriteStats };

/** An unchanged file: its previous record and the object it reuses. */
type Reused = { record: StatRecord; objectKey: string };

/** One entry's index line, and a file's stat-cache record and object. */
interface Written {
  name: Buffer;
  line: string;
  record?: StatRecord;
  object?: string;
}

export function writeStoreMedia(options: StoreWriteOptions): StoreUpload {
  const { store, key, recipients, inspector } = options;
  const stats: StoreWriteStats = {
    objects: 0,
    objectBytes: 0,
    uploadedObjects: 0,
    uploadedBytes: 0,
    reusedObjects: 0,
    unchangedFiles: 0,
    segments: 0,
    chunks: 0,
    chunkBytes: 0,
    uploadedChunks: 0,
    uploadedChunkBytes: 0,
    ...(options.chunkGeneration ? { chunkGeneration: options.chunkGeneration } : {}),
  };
  const retention = options.contentLock && new ObjectRetention(store, options.contentLock);
  /** A record's lock date, when it is about the object `sha256` names now. */
  const knownLock = (previous: StatRecord | undefined, sha256: string) =>
    options.statCache.trustLock && previous?.sha256 === sha256 ? previous.lockUntilMs : undefined;
  /** The segment list's bytes as they are stored (what the progress line shows). */
  const meter = new DigestMeter();
  let failure: Error | undefined;
  const cancel = (reason: Error) => {
    failure ??= reason;
    objects.destroy(reason);
    options.statCache.previous?.close();
  };
  /** The store's objects at the start (one listing; set by produce), and those this run stores. */
  let listed: ObjectCatalog | undefined;
  const objects = new ObjectWriter({
    store,
    recipients,
    retention,
    stats,
    partSizeMiB: options.partSizeMiB,
    contentLock: options.contentLock,
    listed: () => listed!,
    failure: () => failure,
  });
  /** Every file's object and stored size, for the object list and the check before the manifest. */
  let referenced: ReferencedObjects | undefined;

  /** Under Object Lock: the date each of this set's chunks is known to reach (chunk-locks.ts). */
  const chunkLocks = new Map<string, number>();
  /** A segment's chunk (segment-writer.ts): reused or stored like a file's object, and referenced. */
  const segments = new SegmentWriter({
    key,
    recipients,
    generation: options.chunkGeneration,
    sealKey: options.statCache.sealKey,
    store: async (chunkKey, encoded) => {
      const known = options.statCache.trustLock ? options.chunkLocks?.previous?.get(chunkKey) : undefined;
      const { bytes, lockUntilMs } = await objects.store(chunkKey, 0, encoded, known, true);
      if (lockUntilMs !== undefined) chunkLocks.set(chunkKey, lockUntilMs);
      referenced!.add(chunkKey, bytes);
      return bytes;
    },
  });

  /** An unchanged file's line, its object reused: synchronous (no promise a file; fileLine adds a lock date). */
  const reusedLine = (
    entry: WalkedEntry,
    common: Omit<IndexEntry, "type">,
    reused: Reused,
  ): Written & { record: StatRecord } => {
    const { record: unchanged, objectKey } = reused;
    // Before any await: the catalog answers the walk's question about this object from its last lookup.
    const objectBytes = listed!.bytesOf(objectKey)!;
    if (referenced!.add(objectKey, objectBytes)) {
      stats.objects += 1;
      stats.objectBytes += objectBytes;
      stats.reusedObjects += 1;
    }
    stats.unchangedFiles += 1;
    const size = Number(unchanged.size);
    inspector.add({ type: "-", size, name: entry.name });
    return {
      name: entry.name,
      line: fileEntryLine(common, size, unchanged.sha256, objectKey, objectBytes),
      // Its line as read, when it has no lock date (as a reused file's line has none without retention).
      record: unchanged.lockUntilMs === undefined ? unchanged : { ...unchanged, lockUntilMs: undefined },
      object: objectKey,
    };
  };

  const fileLine = async (
    entry: WalkedEntry,
    common: Omit<IndexEntry, "type">,
    reused: Reused | undefined,
    previous: StatRecord | undefined,
  ): Promise<Written> => {
    if (reused) {
      const written = reusedLine(entry, common, reused);
      const { record, objectKey } = reused;
      const lockUntilMs = await retention?.ensure(objectKey, knownLock(record, record.sha256));
      // A copy (the record may be the cache's own): recordLine writes the lock date into its line.
      written.record = { ...written.record, lockUntilMs };
      return written;
    }
    for (let attempt = 1; ; attempt += 1) {
      const content = await readContent(entry);
      const objectKey = key.keyOf(content.sha256, { recipients });
      try {
        const {
          bytes: objectBytes,
          first,
          lockUntilMs,
        } = await objects.store(objectKey, content.size, content.body, knownLock(previous, content.sha256));
        if (first) {
          stats.objects += 1;
          stats.objectBytes += objectBytes;
        }
        referenced!.add(objectKey, objectBytes);
        // The tally counts what the index records (the content read), not the walk's size.
        inspector.add({ type: "-", size: content.size, name: entry.name });
        const st = entry.stats;
        return {
          name: entry.name,
          object: objectKey,
          line: fileEntryLine(common, content.size, content.sha256, objectKey, objectBytes),
          // The walk's stat: a change after it makes the next run's stat differ, so it reads again.
          record: {
            name: entry.name,
            size: BigInt(content.size),
            mtimeNs: st.mtimeNs,
            ctimeNs: st.ctimeNs,
            ino: st.ino,
            sha256: content.sha256,
            lockUntilMs,
          },
        };
      } catch (error) {
        if (!(error instanceof ContentChanged) || attempt >= READ_ATTEMPTS) {
          if (error instanceof ContentChanged)
            throw new RunnerError(
              `${quoteName(entry.name)} changed every time it was read (${READ_ATTEMPTS} times); run the backup again when it is quiet`,
            );
          throw error;
        }
      }
    }
  };

  const produce = async (): Promise<Segment[]> => {
    // The walk's thread comes up (60-100 ms) and walks ahead while the listing is awaited.
    const { walk, first } = await (options.walk ?? startStoreWalk(options.dir));
    // However the writing ends (done, a failed listing or file, a cancel), the walk's thread ends
    // with it: a no-op once the walk has ended.
    try {
      return await writeEntries(resumed(walk, first));
    } finally {
      await walk.return(undefined).catch(() => undefined);
    }
  };

  const writeEntries = async (entries: AsyncGenerator<WalkedEntry[]>): Promise<Segment[]> => {
    listed = await (options.catalog ?? ObjectCatalog.fromListing(store));
    // Tests stop here (a gc let go now deletes under a listing this run will trust): the listing is
    // in, none of this run's media is stored yet.
    await faultPoint("backup.store-listed");
    referenced = new ReferencedObjects(listed);
    // Lines go out in walk order; files are read and stored `transfers` at a time. An unchanged
    // file's line is ready at once (no promise) unless its retention is to be extended. The walk
    // goes on past a file being stored, up to PENDING lines ahead: bounding the lines (not the
    // files in flight) by `transfers` held the walk at every changed file until it was stored, so
    // a 1% change stored its files one at a time (50,000 files: +1.1 s, issue 22).
    // A line waits in a slot: ready (`w`), or its file being stored (`p`, which fills `w`).
    const pending: Array<{ w?: Written; p?: Promise<Written> }> = [];
    let inFlight = 0;
    /**
     * Hands the ready lines at the head to the segments, in walk order, without an await (one a
     * line was ~2 µs a file); a promise only when the walk must wait: for a file being stored
     * (all: at the end; else when `transfers` files or PENDING lines wait) or for a cut (too many
     * segments being stored).
     */
    const drain = (all: boolean): Promise<void> | undefined => {
      for (;;) {
        const head = pending[0];
        if (head === undefined) return undefined;
        if (head.w === undefined) {
          if (!all && inFlight < options.transfers && pending.length < PENDING) return undefined;
          return head.p!.then(() => drain(all));
        }
        if (failure) throw failure;
        pending.shift();
        const { name, line, record, object } = head.w;
        const cut = segments.add(name, line, record && recordLine(record), object);
        if (cut) return cut.then(() => drain(all));
      }
    };
    // The folder itself first (its mode and mtime, as tar's "./"), under the empty name.
    const top = await lstat(options.dir, { bigint: true });
    pending.push({
      w: {
        name: Buffer.alloc(0),
        line: entryLine({
          name: Buffer.alloc(0),
          type: "dir",
          mode: Number(top.mode & 0o7777n),
          uid: Number(top.uid),
          gid: Number(top.gid),
          mtimeNs: top.mtimeNs,
        }),
      },
    });
    for await (const batch of entries)
      for (const entry of batch) {
        if (failure) throw failure;
        const type = typeOfLetter(entry.type);
        // Sockets are left out, as tar leaves them out; devices are refused by the inspector.
        if (type === undefined && entry.type === "s") continue;
        const st = entry.stats;
        const common = {
          name: entry.name,
          mode: Number(st.mode & 0o7777n),
          uid: Number(st.uid),
          gid: Number(st.gid),
          mtimeNs: st.mtimeNs,
        };
        if (type === "file") {
          // In walk order, before any later entry: the cache is a stream sorted the same way.
          let previous = options.statCache.previous?.lookup(entry.name);
          if (previous instanceof Promise) previous = await previous;
          // The keyed name is an HMAC: computed once, here, for the file's line too.
          const reusable =
            !options.statCache.rehash && previous && statMatches(previous, st)
              ? key.keyOf(previous.sha256, { recipients })
              : undefined;
          const unchanged = reusable && listed.has(reusable) ? { record: previous!, objectKey: reusable } : undefined;
          if (unchanged && !retention) pending.push({ w: reusedLine(entry, common, unchanged) });
          else {
            const slot: { w?: Written; p: Promise<Written> } = { p: fileLine(entry, common, unchanged, previous) };
            inFlight += 1;
            slot.p.then(
              (written) => {
                inFlight -= 1;
                slot.w = written;
              },
              (error: unknown) => {
                inFlight -= 1;
                cancel(error instanceof Error ? error : new Error(String(error)));
              },
            );
            pending.push(slot);
          }
        } else {
          inspector.add({ type: entry.type, size: 0, name: entry.name, linkTarget: entry.linkTarget });
          if (type === undefined) continue; // a device: the inspector reported it, the run stops
          pending.push({ w: { name: entry.name, line: entryLine({ ...common, type, target: entry.linkTarget }) } });
        }
        const waiting = drain(false);
        if (waiting) await waiting;
      }
    await drain(true);
    options.statCache.previous?.close();
    const list = await segments.end();
    stats.segments = list.length;
    const chunks = new Map(list.flatMap((s) => CHUNK_KINDS.map((k) => [s[k].key, s[k].bytes] as const)));
    stats.chunks = chunks.size;
    for (const bytes of chunks.values()) stats.chunkBytes += bytes;
    if (retention && options.chunkLocks)
      await writeChunkLocks(store, options.chunkLocks.key, chunkLocks, options.statCache.sealKey, options.lock);
    if (retention) Object.assign(stats, retention.stats);
    return list;
  };

  const produced = produce().catch(async (error: unknown) => {
    const reason = error instanceof Error ? error : new Error(String(error));
    cancel(reason);
    // Writes may end (or start a chunk's) while others are awaited: until none is left.
    await objects.settled();
    throw reason;
  });
  produced.catch(() => undefined);
  const done: Promise<StreamResult> = produced.then(async (list) => {
    if (failure) throw failure;
    // The segment list (what gc marks from: its chunks and the keys in its object-list chunks),
    // then (after any gc lease) the check that every reused object and chunk is still there (a
    // listing, unless the first one still holds): only then may the manifest be written (gc-lease.ts).
    const text = segmentListHeader(options.backupId) + list.map(segmentLine).join("");
    pipeline(Readable.from([Buffer.from(text, "utf8")]), meter, () => undefined);
    await store.putStream(options.segmentListKey, meter, {
      partSize: choosePartSize(text.length, options.partSizeMiB),
      queueSize: 1,
      contentType: "text/plain",
      lock: options.lock,
    });
    const storedAt = performance.now();
    await faultPoint("backup.after-object-list");
    const lease = await waitOutGcLeases(store, options.segmentListKey, storedAt, options.log, listed!.listedFrom);
    if (failure) throw failure;
    await confirmSet(store, referenced!, lease);
    await faultPoint("backup.objects-confirmed");
    if (failure) throw failure;
    return { key: options.segmentListKey, bytes: meter.bytes, sha256: meter.sha256 };
  });
  // The new objects' keys kept in TMPDIR (key-records.ts) go when the run is done, either way.
  void done.finally(() => referenced?.dispose()).catch(() => undefined);
  return { stage: "media", meter, done, stats, cancel: (reason) => cancel(reason) };
}

/** For messages: what a run stored. */
export function describeStats(s: StoreWriteStats): string {
  return `${s.objects} objects (${s.uploadedObjects} uploaded, ${s.reusedObjects} reused)`;
}

/** `walk` from its first result, already asked for (whoever holds `walk` ends it: produce). */
async function* resumed<T>(walk: AsyncGenerator<T>, first: Promise<IteratorResult<T>>): AsyncGenerator<T> {
  for (let next = await first; !next.done; next = await walk.next()) yield next.value;
}
