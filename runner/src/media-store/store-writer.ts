/**
 * A store-format backup's media part (MEDIA_FORMAT=store): the folder walked in order, each
 * regular file's content stored once under its keyed name (store/objects/...) unless the store
 * already holds it, and the index streamed (zstd, then age when encrypted) into the set as it is
 * written. Objects already in the store (from one listing at the start) are reused, so a run
 * after an interrupted one uploads only what the interrupted one had not stored yet.
 *
 * A file is read once to learn its sha256 (its object's name) and, only when the object is new,
 * again to upload it; the second read is hashed too and the upload fails (leaving nothing under
 * the name) when the content changed in between, and the file is read afresh. Files up to
 * SMALL_FILE bytes are read into memory once instead. Files are opened with O_NOFOLLOW: a file
 * swapped for a symlink after the walk is refused, never followed out of the folder.
 */
import { createHash } from "node:crypto";
import { constants } from "node:fs";
import { lstat, open } from "node:fs/promises";
import { PassThrough, Readable, Transform, pipeline } from "node:stream";
import { walkTree, type WalkedEntry } from "../archive/directory-walk.js";
import type { EntryInspector } from "../archive/inspector.js";
import { quoteName } from "../archive/entry-name.js";
import { excludedFromArchive } from "../contract.js";
import { RunnerError } from "../errors.js";
import { choosePartSize } from "../store/part-size.js";
import { encryptSource, encryptStream } from "../stages/age-encrypt.js";
import { spawnChildFilter } from "../stages/child-filter.js";
import { LineBatch } from "../stages/line-batch.js";
import { DigestMeter } from "../stages/digest-meter.js";
import { uploadChildOutput, type StreamResult, type UploadStream } from "../stages/upload-stream.js";
import { ZSTD_BINARY, zstdCompressArgs } from "../stages/zstd.js";
import { AlreadyExistsError, type ObjectStore, type PutStreamOptions } from "../store/object-store.js";
import { faultPoint } from "../fault-points.js";
import type { Logger } from "../output/logger.js";
import type { StoredObjectEntry } from "../catalog/manifest.js";
import { confirmReferenced, waitOutGcLeases } from "./gc-lease.js";
import { ReferencedObjects, writeObjectList } from "./object-list.js";
import { entryLine, headerLine, typeOfLetter, type IndexEntry } from "./media-index.js";
import { ObjectCatalog, ThisRunObjects } from "./object-catalog.js";
import type { StoreKey } from "./object-names.js";
import { ObjectRetention, type ContentLock, type RetentionStats } from "./object-retention.js";
import { recordLine, statCacheWriter, statMatches, type StatCacheCursor, type StatRecord } from "./stat-cache.js";

/** Files up to this size are read once, into memory (at most `transfers` of them at a time). */
export const SMALL_FILE = 1024 * 1024;
/** Times a file that keeps changing while it is read is tried before the backup fails. */
const READ_ATTEMPTS = 3;
/** The index's zstd level: it is small and written once; -3 is zstd's default. */
const INDEX_ZSTD_LEVEL = 3;

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
}

export interface StoreWriteOptions {
  dir: string;
  store: ObjectStore;
  key: StoreKey;
  backupId: string;
  /** The index's key, `<tier>/<backupId>/media-index.jsonl.zst[.age]`. */
  indexKey: string;
  /** The object list's key, `<tier>/<backupId>/media-objects.txt` (object-list.ts). */
  objectListKey: string;
  /** For the wait on a concurrent gc (gc-lease.ts). */
  log?: Logger;
  recipients?: readonly string[];
  transfers: number;
  /** The set's own objects' retention (index, stat cache). */
  lock?: PutStreamOptions["lock"];
  /** Content objects' retention: new ones get it, reused ones are extended to it (object-retention.ts). */
  contentLock?: ContentLock;
  partSizeMiB?: number;
  /** Judges every entry (unsafe ones, the tally, the reference check's file names). */
  inspector: EntryInspector;
  /**
   * Change detection: the previous set's cache (absent: read every file) and where this run's goes.
   * `rehash`: read every file all the same (the cache then only says how long objects are locked).
   * `trustLock`: the cache's lock dates are about this run's object names (same recipients).
   */
  statCache: { previous?: StatCacheCursor; sealKey: Buffer; objectKey: string; rehash?: boolean; trustLock?: boolean };
}

export type StoreUpload = UploadStream & {
  readonly stats: StoreWriteStats;
  /** The stored object list's manifest entry, once `done` resolved. */
  readonly objectList: () => StoredObjectEntry;
};

class ContentChanged extends Error {}

/** One entry's index line, and a file's stat-cache record. */
interface Written {
  line: string;
  record?: StatRecord;
}

/** A pass-through that fails at its end, before the consumer sees a clean end, when the bytes are not `sha256`. */
function expectContent(sha256: string, size: number): Transform {
  const hash = createHash("sha256");
  let bytes = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      hash.update(chunk);
      callback(null, chunk);
    },
    flush(callback) {
      const digest = hash.digest("hex");
      callback(digest === sha256 && bytes === size ? null : new ContentChanged("changed while it was read"));
    },
  });
}

async function openNoFollow(entry: WalkedEntry) {
  const handle = await open(entry.path, constants.O_RDONLY | constants.O_NOFOLLOW);
  const info = await handle.stat();
  if (!info.isFile()) {
    await handle.close();
    throw new RunnerError(
      `${quoteName(entry.name)} is no longer a regular file (the media folder changed during the backup)`,
    );
  }
  return handle;
}

/** The file's content as it is now: its sha256 and size, and a way to read exactly that again. */
async function readContent(
  entry: WalkedEntry,
): Promise<{ sha256: string; size: number; body: () => Promise<Readable> }> {
  const handle = await openNoFollow(entry);
  try {
    if (Number(entry.stats.size) <= SMALL_FILE) {
      const bytes = await handle.readFile();
      const sha256 = createHash("sha256").update(bytes).digest("hex");
      return { sha256, size: bytes.length, body: async () => Readable.from([bytes]) };
    }
    const hash = createHash("sha256");
    let size = 0;
    for await (const chunk of handle.createReadStream({
      autoClose: false,
      highWaterMark: 256 * 1024,
    }) as AsyncIterable<Buffer>) {
      size += chunk.length;
      hash.update(chunk);
    }
    const sha256 = hash.digest("hex");
    return {
      sha256,
      size,
      body: async () => {
        const again = await openNoFollow(entry);
        const check = expectContent(sha256, size);
        pipeline(again.createReadStream({ highWaterMark: 256 * 1024 }), check, () => undefined);
        return check;
      },
    };
  } finally {
    await handle.close();
  }
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
  };
  const cacheOut = statCacheWriter(options.statCache.sealKey);
  const cacheStored = store.putStream(options.statCache.objectKey, cacheOut.sealed, {
    partSize: choosePartSize(0, options.partSizeMiB),
    queueSize: 1,
    contentType: "application/octet-stream",
    lock: options.lock,
  });
  cacheStored.catch(() => undefined);
  const retention = options.contentLock && new ObjectRetention(store, options.contentLock);
  /** A record's lock date, when it is about the object `sha256` names now. */
  const knownLock = (previous: StatRecord | undefined, sha256: string) =>
    options.statCache.trustLock && previous?.sha256 === sha256 ? previous.lockUntilMs : undefined;
  /** The retention a HeadObject just showed (the object needs no second look when it is late enough). */
  const headLock = (head: { lock?: { retainUntil: Date } }) => head.lock?.retainUntil.getTime();
  const lines = new PassThrough();
  const compressed = spawnChildFilter(ZSTD_BINARY, zstdCompressArgs(INDEX_ZSTD_LEVEL), lines, {
    label: "zstd (media index)",
  });
  const source = recipients ? encryptSource(compressed, recipients) : compressed;
  const index = uploadChildOutput("media", source, store, options.indexKey, {
    partSize: choosePartSize(0, options.partSizeMiB),
    queueSize: 1,
    contentType: "application/octet-stream",
    lock: options.lock,
  });
  let failure: Error | undefined;
  const active = new Set<Readable>();
  const cancel = (reason: Error) => {
    failure ??= reason;
    for (const body of active) body.destroy(reason);
    lines.destroy(reason);
    cacheOut.lines.destroy(reason);
    options.statCache.previous?.close();
    index.cancel(reason);
  };

  /** The store's objects at the start (one listing), and those this run stored since. */
  let listed: ObjectCatalog | undefined;
  const stored = new ThisRunObjects();
  /** Every file's object and stored size, for the object list and the check before the manifest. */
  let referenced: ReferencedObjects | undefined;

  /**
   * Stores one content object unless the store has it; returns its stored size, whether this
   * is the set's first reference to it (what `stats.objects` counts) and, under Object Lock, the
   * date its retention reaches (`lockKnown`: a date it was known to reach already).
   */
  const storeObject = async (
    objectKey: string,
    size: number,
    body: () => Promise<Readable>,
    lockKnown: number | undefined,
  ): Promise<{ bytes: number; first: boolean; lockUntilMs?: number }> => {
    const have = listed!.bytesOf(objectKey);
    if (have !== undefined) {
      const first = listed!.markUsed(objectKey);
      if (first) stats.reusedObjects += 1;
      return { bytes: have, first, lockUntilMs: await retention?.ensure(objectKey, lockKnown) };
    }
    // Stored earlier in this run (a second name for one content): the store says its size.
    if (stored.mayHave(objectKey)) {
      const head = await store.head(objectKey);
      if (head)
        return { bytes: head.bytes, first: false, lockUntilMs: await retention?.ensure(objectKey, headLock(head)) };
    }
    const plain = await body();
    active.add(plain);
    const sealed = recipients ? encryptStream(plain, recipients) : undefined;
    const meter = new DigestMeter();
    pipeline(sealed ? sealed.stream : plain, meter, () => undefined);
    try {
      await Promise.all([
        store.putStream(objectKey, meter, {
          partSize: choosePartSize(size * 1.01 + 4096, options.partSizeMiB),
          queueSize: 1,
          contentType: "application/octet-stream",
          lock: options.contentLock && { mode: options.contentLock.mode, retainUntil: options.contentLock.extendTo },
        }),
        sealed?.exited,
      ]);
    } catch (error) {
      sealed?.stop();
      if (!(error instanceof AlreadyExistsError)) throw error;
      // Stored meanwhile (two names with one content, or another run): the store's copy is used.
      const head = await store.head(objectKey);
      if (!head) throw error;
      const first = !stored.mayHave(objectKey);
      stored.add(objectKey);
      return { bytes: head.bytes, first, lockUntilMs: await retention?.ensure(objectKey, headLock(head)) };
    } finally {
      active.delete(plain);
    }
    stats.uploadedObjects += 1;
    stats.uploadedBytes += meter.bytes;
    stored.add(objectKey);
    return { bytes: meter.bytes, first: true, lockUntilMs: retention?.lock.extendTo.getTime() };
  };

  const fileLine = async (
    entry: WalkedEntry,
    common: Omit<IndexEntry, "type">,
    reused: { record: StatRecord; objectKey: string } | undefined,
    previous: StatRecord | undefined,
  ): Promise<Written> => {
    if (reused) {
      const { record: unchanged, objectKey } = reused;
      // Before any await: the catalog answers the walk's question about this object from its last lookup.
      const objectBytes = listed!.bytesOf(objectKey)!;
      if (referenced!.add(objectKey, objectBytes)) {
        stats.objects += 1;
        stats.objectBytes += objectBytes;
        stats.reusedObjects += 1;
      }
      stats.unchangedFiles += 1;
      const lockUntilMs = await retention?.ensure(objectKey, knownLock(unchanged, unchanged.sha256));
      const size = Number(unchanged.size);
      inspector.add({ type: "-", size, name: entry.name });
      return {
        line: entryLine({ ...common, type: "file", size, sha256: unchanged.sha256, object: objectKey, objectBytes }),
        record: { ...unchanged, lockUntilMs },
      };
    }
    for (let attempt = 1; ; attempt += 1) {
      const content = await readContent(entry);
      const objectKey = key.keyOf(content.sha256, { recipients });
      try {
        const {
          bytes: objectBytes,
          first,
          lockUntilMs,
        } = await storeObject(objectKey, content.size, content.body, knownLock(previous, content.sha256));
        if (first) {
          stats.objects += 1;
          stats.objectBytes += objectBytes;
        }
        referenced!.add(objectKey, objectBytes);
        // The tally counts what the index records (the content read), not the walk's size.
        inspector.add({ type: "-", size: content.size, name: entry.name });
        const st = entry.stats;
        return {
          line: entryLine({
            ...common,
            type: "file",
            size: content.size,
            sha256: content.sha256,
            object: objectKey,
            objectBytes,
          }),
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

  const produce = async (): Promise<void> => {
    listed = await ObjectCatalog.fromListing(store);
    referenced = new ReferencedObjects(listed);
    // Lines go to zstd and to the stat cache's deflate in chunks, not one write a file.
    const indexLines = new LineBatch(lines);
    const cacheLines = new LineBatch(cacheOut.lines);
    await indexLines.add(headerLine({ edmsMediaIndex: 1, backupId: options.backupId }));
    // Lines go out in walk order; files are read and stored `transfers` at a time.
    const pending: Array<Promise<Written>> = [];
    const flushOne = async () => {
      const { line, record } = await pending.shift()!;
      if (failure) throw failure;
      await indexLines.add(line);
      if (record) await cacheLines.add(recordLine(record));
    };
    // The folder itself first (its mode and mtime, as tar's "./"), under the empty name.
    const top = await lstat(options.dir, { bigint: true });
    pending.push(
      Promise.resolve({
        line: entryLine({
          name: Buffer.alloc(0),
          type: "dir",
          mode: Number(top.mode & 0o7777n),
          uid: Number(top.uid),
          gid: Number(top.gid),
          mtimeNs: top.mtimeNs,
        }),
      }),
    );
    for await (const entry of walkTree(options.dir, { skipTopLevel: excludedFromArchive })) {
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
        const previous = await options.statCache.previous?.lookup(entry.name);
        // The keyed name is an HMAC: computed once, here, for the file's line too.
        const reusable =
          !options.statCache.rehash && previous && statMatches(previous, st)
            ? key.keyOf(previous.sha256, { recipients })
            : undefined;
        const unchanged = reusable && listed.has(reusable) ? { record: previous!, objectKey: reusable } : undefined;
        const line = fileLine(entry, common, unchanged, previous);
        line.catch((error: unknown) => cancel(error instanceof Error ? error : new Error(String(error))));
        pending.push(line);
      } else {
        inspector.add({ type: entry.type, size: 0, name: entry.name, linkTarget: entry.linkTarget });
        if (type === undefined) continue; // a device: the inspector reported it, the run stops
        pending.push(Promise.resolve({ line: entryLine({ ...common, type, target: entry.linkTarget }) }));
      }
      while (pending.length >= options.transfers) await flushOne();
    }
    while (pending.length) await flushOne();
    await indexLines.end();
    await cacheLines.end();
    options.statCache.previous?.close();
    await cacheStored;
    if (retention) Object.assign(stats, retention.stats);
  };

  const produced = produce().catch((error: unknown) => {
    const reason = error instanceof Error ? error : new Error(String(error));
    cancel(reason);
    throw reason;
  });
  produced.catch(() => undefined);
  let objectList: StoredObjectEntry | undefined;
  const done: Promise<StreamResult> = Promise.allSettled([produced, index.done]).then(async ([p, i]) => {
    if (failure) throw failure;
    if (p.status === "rejected") throw p.reason;
    if (i.status === "rejected") throw i.reason;
    // The object list, then (after any gc lease) one listing proving every reused object is
    // still there: only then may the manifest be written (gc-lease.ts).
    const keys = function* () {
      for (const [k] of referenced!.sorted()) yield k;
    };
    objectList = await writeObjectList(store, options.objectListKey, options.backupId, keys(), options.lock);
    const storedAt = performance.now();
    await faultPoint("backup.after-object-list");
    await waitOutGcLeases(store, options.objectListKey, storedAt, options.log);
    if (failure) throw failure;
    await confirmReferenced(store, () => referenced!.sorted());
    await faultPoint("backup.objects-confirmed");
    if (failure) throw failure;
    return i.value;
  });
  return {
    stage: "media",
    meter: index.meter,
    done,
    stats,
    objectList: () => {
      if (!objectList) throw new Error("the object list was read before it was stored");
      return objectList;
    },
    cancel: (reason) => cancel(reason),
  };
}

/** For messages: what a run stored. */
export function describeStats(s: StoreWriteStats): string {
  return `${s.objects} objects (${s.uploadedObjects} uploaded, ${s.reusedObjects} reused)`;
}
