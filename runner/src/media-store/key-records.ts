/**
 * The content object keys a backup stored itself (not in the start's listing), as it meets them
 * (duplicates included), for the object list's merge with the listing before the manifest
 * (object-list.ts ReferencedObjects). A record is 41 bytes: the keyed name as 32 binary bytes, the
 * `.age` bit, the stored size (float64). `sorted()` gives each key once, in byte order (binary name
 * order is the hex keys' order).
 *
 * Up to `spillAt` records stay in memory. Beyond, every record goes to one of BUCKETS files in a
 * folder under TMPDIR, chosen by its name's first byte, so each bucket holds one key range and the
 * buckets in turn are the keys in order; `sorted()` reads, sorts and gives out one bucket at a
 * time. Keyed names are uniform, so a bucket is ~1/64 of the records: a first backup of 1,000,000
 * files keeps ~1 MB of bucket buffers instead of 41 MB of records (issue 22: peak RSS <= 200 MiB at
 * 1,000,000 files), and 10,000,000 files ~6.4 MB for the largest bucket at the end. The disk: 41
 * bytes a record in TMPDIR (the pod's /tmp emptyDir), removed by `dispose()`.
 */
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { STORE_OBJECT_KEY_RE, storeObjectKey } from "../contract.js";
import { RunnerError, errorMessage } from "../errors.js";

const NAME = 33;
const RECORD = NAME + 8;
const CHUNK = 1 << 16;
const BUCKETS = 64;
/** Records buffered a bucket before a write (~16 KB). */
const BUCKET_RECORDS = 400;

export interface KeyRecordsOptions {
  /** Records kept in memory before they go to files (default 65,536: ~2.7 MB). */
  spillAt?: number;
  /** Where the bucket folder is made (default: os.tmpdir(), i.e. TMPDIR). */
  tmpDir?: string;
}

/** Record a of `x` against record b of `y` (no Buffer made: a sort compares ~20 times a record). */
function compareIn(x: Buffer, a: number, y: Buffer, b: number): number {
  return x.compare(y, b, b + NAME, a, a + NAME);
}

/** The records of one buffer (`count` of them from offset 0), each key once, in key order. */
function* inOrder(data: Buffer, count: number): Generator<[string, number]> {
  const order = new Uint32Array(count);
  for (let i = 0; i < count; i += 1) order[i] = i * RECORD;
  order.sort((a, b) => compareIn(data, a, data, b));
  let last = -1;
  for (const at of order) {
    if (last >= 0 && compareIn(data, at, data, last) === 0) continue;
    last = at;
    yield [storeObjectKey(data.toString("hex", at, at + 32), data[at + 32] === 1), data.readDoubleLE(at + NAME)];
  }
}

export class KeyRecords {
  private readonly chunks: Buffer[] = [];
  private count = 0;
  private readonly spillAt: number;
  /** Once spilled: the bucket folder, each bucket's file, buffer and records in the buffer. */
  private spill: { dir: string; fds: number[]; buffers: Buffer[]; filled: number[] } | undefined;
  /** After dispose() (the run is over): a late add from a file still in flight is dropped. */
  private disposed = false;

  constructor(private readonly options: KeyRecordsOptions = {}) {
    this.spillAt = options.spillAt ?? CHUNK;
  }

  add(key: string, bytes: number): void {
    const m = STORE_OBJECT_KEY_RE.exec(key);
    if (!m?.groups) throw new Error(`not a content object's key: ${key}`);
    if (this.disposed) return;
    if (!this.spill && this.count >= this.spillAt) this.startSpilling();
    let into: Buffer;
    let at: number;
    if (this.spill) {
      const b = Number.parseInt(m.groups.name!.slice(0, 2), 16) >>> 2;
      into = this.spill.buffers[b]!;
      at = this.spill.filled[b]! * RECORD;
      this.spill.filled[b]! += 1;
      this.write(into, at, m.groups.name!, m.groups.age !== undefined, bytes);
      if (this.spill.filled[b] === BUCKET_RECORDS) this.flush(b);
    } else {
      const c = Math.floor(this.count / CHUNK);
      if (c === this.chunks.length) this.chunks.push(Buffer.alloc(CHUNK * RECORD));
      this.write(this.chunks[c]!, (this.count % CHUNK) * RECORD, m.groups.name!, m.groups.age !== undefined, bytes);
    }
    this.count += 1;
  }

  /** Each key once, in byte order, with its size (re-iterable: the check before the manifest may read it twice). */
  *sorted(): Generator<[string, number]> {
    if (!this.spill) {
      // In memory: one chunk, or (below the default spillAt only in tests) several copied into one.
      const data = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
      yield* inOrder(data, this.count);
      return;
    }
    for (let b = 0; b < BUCKETS; b += 1) this.flush(b);
    for (let b = 0; b < BUCKETS; b += 1) {
      let data: Buffer;
      try {
        data = readFileSync(this.bucketPath(b));
      } catch (error) {
        throw this.failed(error);
      }
      yield* inOrder(data, data.length / RECORD);
    }
  }

  /** Removes the bucket folder (a run that never spilled has none). */
  dispose(): void {
    this.disposed = true;
    if (!this.spill) return;
    for (const fd of this.spill.fds) closeSync(fd);
    rmSync(this.spill.dir, { recursive: true, force: true });
    this.spill = undefined;
  }

  private write(into: Buffer, at: number, name: string, age: boolean, bytes: number): void {
    into.write(name, at, "hex");
    into[at + 32] = age ? 1 : 0;
    into.writeDoubleLE(bytes, at + NAME);
  }

  private bucketPath(b: number): string {
    return join(this.spill!.dir, `bucket-${b}`);
  }

  private startSpilling(): void {
    try {
      const dir = mkdtempSync(join(this.options.tmpDir ?? tmpdir(), "edms-new-objects-"));
      this.spill = { dir, fds: [], buffers: [], filled: [] };
      for (let b = 0; b < BUCKETS; b += 1) {
        this.spill.fds.push(openSync(this.bucketPath(b), "w"));
        this.spill.buffers.push(Buffer.alloc(BUCKET_RECORDS * RECORD));
        this.spill.filled.push(0);
      }
    } catch (error) {
      throw this.failed(error);
    }
    // What is in memory goes to the buckets too.
    const records = this.chunks.splice(0);
    for (let i = 0; i < this.count; i += 1) {
      const chunk = records[Math.floor(i / CHUNK)]!;
      const at = (i % CHUNK) * RECORD;
      const b = chunk[at]! >>> 2;
      chunk.copy(this.spill.buffers[b]!, this.spill.filled[b]! * RECORD, at, at + RECORD);
      this.spill.filled[b]! += 1;
      if (this.spill.filled[b] === BUCKET_RECORDS) this.flush(b);
    }
  }

  private flush(b: number): void {
    const spill = this.spill!;
    const bytes = spill.filled[b]! * RECORD;
    try {
      for (let done = 0; done < bytes;) done += writeSync(spill.fds[b]!, spill.buffers[b]!, done, bytes - done);
    } catch (error) {
      throw this.failed(error);
    }
    spill.filled[b] = 0;
  }

  private failed(error: unknown): RunnerError {
    return new RunnerError(
      `could not keep the list of this backup's new content objects in ${this.spill?.dir ?? this.options.tmpDir ?? tmpdir()} ` +
        `(${errorMessage(error)}): a store backup needs ~41 bytes there for each object it stores beyond the first ${this.spillAt}; ` +
        "give TMPDIR room (in the cluster: the pod's /tmp, the stack's tmpSizeLimit) and run the backup again",
    );
  }
}
