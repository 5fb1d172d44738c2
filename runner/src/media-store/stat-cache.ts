/**
 * Change detection for store-format backups. A backup pod cannot read an encrypted set's index
 * (it holds no identity), so each store-format set also carries a stat cache the pod can read:
 * for every regular file, its name, size, mtime, ctime and inode and its content's sha256,
 * deflated and sealed (sealed-stream.ts) with a key derived from MEDIA_STORE_KEY. It tells the
 * pod nothing it cannot see in the mounted folder, and a bucket reader without the key nothing
 * at all (not even the names). The next backup walks the folder in the same order and reads the
 * previous cache beside the walk (a merge of two sorted streams, so memory does not grow with the
 * tree): a file whose size, mtime, ctime and inode all match is not read again, and its object is
 * reused once the store's listing has it. `--rehash` and the monthly tier read everything.
 *
 * A cache that does not authenticate (damaged, forged, another key) is used only up to the last
 * chunk that did, and the backup reads the rest; a cache is an optimisation, never a source of
 * truth the backup cannot check: entries come only from authenticated chunks written by a pod
 * holding the key.
 */
import { createInflateRaw } from "node:zlib";
import { Readable, pipeline } from "node:stream";
import type { WalkStats } from "../archive/directory-walk.js";
import type { Manifest } from "../catalog/manifest.js";
import type { Logger } from "../output/logger.js";
import { errorMessage } from "../errors.js";
import type { ObjectStore } from "../store/object-store.js";
import { openStream } from "./sealed-stream.js";
import { statCodec } from "./segment-chunks.js";
import { readSegmentList, segmentChunks } from "./segment-reader.js";

/**
 * The cache's name inside a set's folder, in sets written before segments; since, the cache is
 * the set's stat chunks (segment-list.ts), each deflated and sealed the same way.
 */
export const STAT_CACHE_OBJECT = "media-stat-cache.sealed";
export const STAT_CACHE_PURPOSE = "stat-cache-v1";

export interface StatRecord {
  name: Buffer;
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
  ino: bigint;
  sha256: string;
  /**
   * Under Object Lock: a date (ms since the epoch) the content object's retention was known to
   * reach when this set was written (it set or read it). Retention never shrinks without a
   * governance bypass, which no backup identity has, so it stays a lower bound the next backup can
   * use without asking the store (object-retention.ts). Absent: unknown.
   */
  lockUntilMs?: number;
  /**
   * A record read from a cache: its line as read (with its newline). A record of ours without a
   * lock date reads back as recordLine writes it, so an unchanged file's line is this text
   * (store-writer.ts), not made again.
   */
  line?: string;
}

/**
 * The record's line: byte for byte the JSON array of strings earlier runners wrote with
 * JSON.stringify (a stat chunk is named from its bytes; test/runner/index-line.test.ts), built by
 * hand for one line a file a run. Base64 and decimal digits need no escaping; the sha256 is
 * quoted by JSON.stringify all the same.
 */
export function recordLine(r: StatRecord): string {
  if (r.line !== undefined && r.lockUntilMs === undefined) return r.line;
  const lock = r.lockUntilMs === undefined ? "" : `,"${r.lockUntilMs}"`;
  return `["${r.name.toString("base64")}","${r.size}","${r.mtimeNs}","${r.ctimeNs}","${r.ino}",${JSON.stringify(r.sha256)}${lock}]\n`;
}

export function statMatches(r: StatRecord, st: WalkStats): boolean {
  return r.size === st.size && r.mtimeNs === st.mtimeNs && r.ctimeNs === st.ctimeNs && r.ino === st.ino;
}

const SLASH = 0x2f;

/**
 * The walk's order: names compared component by component, bytes within a component. Names here
 * are the walk's own (joined components: no empty or "." parts), so that is byte order with "/"
 * below every other byte (a component that ends first sorts first), compared without splitting
 * the names (this runs for every file of every backup).
 */
export function compareWalkOrder(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i += 1) {
    const x = a[i]!;
    const y = b[i]!;
    if (x !== y) {
      if (x === SLASH) return -1;
      if (y === SLASH) return 1;
      return x - y;
    }
  }
  return a.length - b.length;
}

/**
 * The previous cache as a cursor the walk advances: `lookup(name)` must be called in walk order
 * and returns the record for `name`, if the cache has one.
 */
export class StatCacheCursor {
  /** Batches of records, one a decoded piece of the stream: one await a batch, not one a file. */
  private readonly records: AsyncIterator<StatRecord[]>;
  private batch: StatRecord[] = [];
  private at = 0;
  private current: StatRecord | undefined;
  private done = false;
  /** Files found unchanged (not read again). */
  hits = 0;

  /** `plain`: the records' lines, opened and inflated. */
  constructor(
    plain: Readable,
    private readonly log: Logger,
  ) {
    this.records = parseRecords(plain);
  }

  private async next(): Promise<void> {
    if (this.at < this.batch.length) {
      this.current = this.batch[this.at++];
      return;
    }
    try {
      for (;;) {
        const r = await this.records.next();
        if (r.done) {
          this.done = true;
          return;
        }
        if (r.value.length === 0) continue;
        this.batch = r.value;
        this.current = r.value[0];
        this.at = 1;
        return;
      }
    } catch (error) {
      this.done = true;
      this.current = undefined;
      this.log.warn(
        { stage: "stat-cache", error: errorMessage(error) },
        "the previous stat cache could not be read to the end; the files after that point are read again. " +
          "A damaged stat chunk is reused by every later set (its name comes from its content) and this repeats " +
          'each run: remove it from the store (docs/RUNBOOK.md, "A damaged stat chunk"); the next backup stores it anew',
      );
    }
  }

  /**
   * The record for `name`, at once when the decoded batch at hand decides it (no promise a file:
   * an await each was ~2 µs of a second backup's 50,000 files), else a promise.
   */
  lookup(name: Buffer): StatRecord | undefined | Promise<StatRecord | undefined> {
    for (;;) {
      if (!this.current) {
        if (this.done) return undefined;
        // Within a batch without an await: the next record is at hand.
        if (this.at < this.batch.length) this.current = this.batch[this.at++];
        else return this.next().then(() => this.lookup(name));
        continue;
      }
      const order = compareWalkOrder(this.current.name, name);
      if (order === 0) return this.current;
      if (order > 0) return undefined;
      this.current = undefined;
    }
  }

  close(): void {
    void this.records.return?.();
  }
}

/** The records of each piece of the stream as one batch; a malformed line ends them after the records before it. */
async function* parseRecords(stream: Readable): AsyncGenerator<StatRecord[]> {
  let rest = "";
  const parsed = (lines: string[]): { records: StatRecord[]; error?: unknown } => {
    const records: StatRecord[] = [];
    for (const line of lines) {
      try {
        records.push(parseRecord(line));
      } catch (error) {
        return { records, error };
      }
    }
    return { records };
  };
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    const parts = (rest + chunk.toString("latin1")).split("\n");
    rest = parts.pop()!;
    const { records, error } = parsed(parts);
    yield records;
    if (error !== undefined) throw error;
  }
  if (rest) yield [parseRecord(rest)];
}

function parseRecord(line: string): StatRecord {
  const a = JSON.parse(line) as unknown;
  // Six fields, or seven with the Object Lock lower bound (sets written before it have six).
  if (!Array.isArray(a) || (a.length !== 6 && a.length !== 7) || !a.every((x) => typeof x === "string"))
    throw new Error("a stat cache line is malformed");
  const [name, size, mtimeNs, ctimeNs, ino, sha256, lockUntil] = a as string[];
  if (!/^[0-9a-f]{64}$/.test(sha256!)) throw new Error("a stat cache line has no sha256");
  if (lockUntil !== undefined && !/^[0-9]{1,15}$/.test(lockUntil))
    throw new Error("a stat cache line's lock date is malformed");
  // One shape for every record (no spread): an unchanged file's record is passed on as it is.
  return {
    name: Buffer.from(name!, "base64"),
    size: BigInt(size!),
    mtimeNs: BigInt(mtimeNs!),
    ctimeNs: BigInt(ctimeNs!),
    ino: BigInt(ino!),
    sha256: sha256!,
    lockUntilMs: lockUntil === undefined ? undefined : Number(lockUntil),
    line: lockUntil === undefined ? `${line}\n` : undefined,
  };
}

/**
 * Opens the cache of the set at `setPrefix` (its stat chunks, or in a set written before segments
 * its STAT_CACHE_OBJECT), or undefined when it cannot be read. A stat chunk that is missing or does
 * not authenticate ends the cache there (the cursor warns; the files after it are read again).
 */
export async function openStatCache(
  store: ObjectStore,
  setPrefix: string,
  manifest: Manifest,
  sealKey: Buffer,
  log: Logger,
): Promise<StatCacheCursor | undefined> {
  try {
    if (manifest.media?.layout === "segments") {
      const set = { store, setPrefix, backupId: manifest.backupId };
      const segments = await readSegmentList(set, manifest.media);
      return new StatCacheCursor(Readable.from(segmentChunks(set, segments, "stat", statCodec(sealKey))), log);
    }
    const inflate = createInflateRaw();
    pipeline(await store.get(`${setPrefix}/${STAT_CACHE_OBJECT}`), openStream(sealKey), inflate, () => undefined);
    return new StatCacheCursor(inflate, log);
  } catch (error) {
    log.warn({ stage: "stat-cache", error: errorMessage(error) }, "no previous stat cache; every file is read");
    return undefined;
  }
}
