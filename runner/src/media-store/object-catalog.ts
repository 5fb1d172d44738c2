/**
 * The content objects a store holds, from one listing, in memory that stays small at millions of
 * objects (issue 22: peak RSS ≤ 200 MiB at 1,000,000 files). A Map of key strings cost ~150 bytes
 * an object; here an object is 41 bytes: its keyed name as 32 binary bytes plus whether it is the
 * `.age` variant (33 bytes, in key order), its stored size (8) and one byte saying whether it is
 * used (by this backup's set; for gc, by any set it marked from), plus 1-2 bytes of the directory
 * a lookup finds it by (bucketStarts).
 * Records live in fixed-size chunks, so growing never copies what is already there (no transient
 * double at the largest size).
 *
 * Objects this run stores are not in the listing: `ThisRunObjects` remembers them by an 8-byte
 * fingerprint, and a hit is confirmed by asking the store (a duplicate file met later in the same
 * run), so a fingerprint collision can cost a request, never a missing object.
 */
import { STORE_OBJECTS_PREFIX, storeObjectKey } from "../contract.js";
import { faultPoint } from "../fault-points.js";
import type { ObjectStore, StoredObject } from "../store/object-store.js";

const RECORD = 33;
const CHUNK_RECORDS = 1 << 16;
/** The record of the key being looked up (lookups are synchronous: one at a time). */
const LOOKUP = Buffer.alloc(RECORD);

/** Where a content object's key has its name: after `store/objects/<2 hex>/`. */
const NAME_AT = STORE_OBJECTS_PREFIX.length + 3;
const KEY_LENGTH = NAME_AT + 64;
const SLASH = 0x2f;
/** A lowercase hex digit's value by character code, -1 for any other character below 128. */
const HEX_DIGIT = new Int8Array(128).fill(-1);
for (let d = 0; d < 16; d += 1) HEX_DIGIT["0123456789abcdef".charCodeAt(d)] = d;
const hexDigit = (code: number): number => (code < 128 ? HEX_DIGIT[code]! : -1);

/**
 * Writes a content object's key as its 33-byte record (name bytes, then 1 for `.age`) into `into`
 * at `offset`; false (and the bytes there undefined) when it is not a content object's key. Exactly
 * the keys STORE_OBJECT_KEY_RE matches (a test holds the two together), without a regex and a
 * Buffer a key: a backup parses every listed object's key, twice over 50,000 objects or more.
 */
export function writeRecord(key: string, into: Buffer, offset: number): boolean {
  const length = key.length;
  if ((length !== KEY_LENGTH && length !== KEY_LENGTH + 4) || !key.startsWith(STORE_OBJECTS_PREFIX)) return false;
  // The folder is the name's first two digits (checked as hex with the name).
  const folder = STORE_OBJECTS_PREFIX.length;
  if (
    key.charCodeAt(folder) !== key.charCodeAt(NAME_AT) ||
    key.charCodeAt(folder + 1) !== key.charCodeAt(NAME_AT + 1) ||
    key.charCodeAt(folder + 2) !== SLASH
  )
    return false;
  for (let i = 0; i < 32; i += 1) {
    const high = hexDigit(key.charCodeAt(NAME_AT + 2 * i));
    const low = hexDigit(key.charCodeAt(NAME_AT + 2 * i + 1));
    if ((high | low) < 0) return false;
    into[offset + i] = (high << 4) | low;
  }
  if (length === KEY_LENGTH) into[offset + 32] = 0;
  else if (key.endsWith(".age")) into[offset + 32] = 1;
  else return false;
  return true;
}

/** A content object's key as its record in the shared LOOKUP buffer, or undefined when it is not one. */
function lookupRecord(key: string): Buffer | undefined {
  return writeRecord(key, LOOKUP, 0) ? LOOKUP : undefined;
}

export class ObjectCatalog {
  private readonly chunks: Buffer[] = [];
  private readonly sizes: Float64Array[] = [];
  private readonly used: Uint8Array[] = [];
  private count = 0;
  /** Positions in key order, only when the listing did not come sorted (a store breaking its contract). */
  private order: Uint32Array | undefined;
  private sorted = true;
  /** The bucket directory (bucketStarts), made by the first lookup after the last add. */
  private starts: Uint32Array | undefined;
  /** A name's bucket is its first 4 bytes shifted right by this. */
  private shift = 31;
  /** The last lookup (find). */
  private lastKey: string | undefined;
  private lastAt: number | undefined;
  /**
   * performance.now() just before the listing was asked for (fromListing): every object it lists
   * was there at that moment or later. A backup whose gc leases all ended before it needs no
   * second listing (gc-lease.ts confirmReferenced). Undefined for a catalog built otherwise.
   */
  listedFrom: number | undefined;

  /** Every content object under STORE_OBJECTS_PREFIX, from one listing; `other` is told about the rest. */
  static async fromListing(store: ObjectStore, other?: (o: StoredObject) => void): Promise<ObjectCatalog> {
    const catalog = new ObjectCatalog();
    catalog.listedFrom = performance.now();
    let first = true;
    for await (const batch of store.listBatches(STORE_OBJECTS_PREFIX)) {
      for (const o of batch) if (!catalog.add(o.key, o.bytes)) other?.(o);
      // Tests stop a listing here: what a gc deletes from now on may be in the catalog already.
      if (first) await faultPoint("store.first-batch-listed");
      first = false;
    }
    catalog.seal();
    return catalog;
  }

  get size(): number {
    return this.count;
  }

  /** Adds a listed object; false (and nothing added) for a key that is not a content object's. */
  add(key: string, bytes: number): boolean {
    this.lastKey = undefined;
    this.starts = undefined;
    const c = this.count >>> 16;
    const at = this.count & (CHUNK_RECORDS - 1);
    if (c === this.chunks.length) {
      this.chunks.push(Buffer.allocUnsafe(CHUNK_RECORDS * RECORD));
      this.sizes.push(new Float64Array(CHUNK_RECORDS));
      this.used.push(new Uint8Array(CHUNK_RECORDS));
    }
    // Parsed straight into its slot, which counts only once the key is a content object's.
    if (!writeRecord(key, this.chunks[c]!, at * RECORD)) return false;
    if (this.count > 0 && this.sorted && this.compareRecords(this.count - 1, this.count) >= 0) this.sorted = false;
    this.sizes[c]![at] = bytes;
    this.count += 1;
    return true;
  }

  /** Done adding: sorts (positions only) when the listing was not in key order. */
  seal(): void {
    this.lastKey = undefined;
    this.starts = undefined;
    if (this.sorted) return;
    const order = new Uint32Array(this.count);
    for (let i = 0; i < this.count; i += 1) order[i] = i;
    this.order = order.sort((a, b) => this.compareRecords(a, b));
  }

  /** The stored size of `key`, when the listing has it. */
  bytesOf(key: string): number | undefined {
    const i = this.find(key);
    return i === undefined ? undefined : this.sizes[i >>> 16]![i & (CHUNK_RECORDS - 1)];
  }

  has(key: string): boolean {
    return this.find(key) !== undefined;
  }

  /** Marks a listed object as used; true the first time (false when not listed: nothing to mark). */
  markUsed(key: string): boolean {
    return this.use(key) === true;
  }

  /** Marks a listed object as used: true the first time, false after, undefined when not listed. */
  use(key: string): boolean | undefined {
    const i = this.find(key);
    if (i === undefined) return undefined;
    const flags = this.used[i >>> 16]!;
    const at = i & (CHUNK_RECORDS - 1);
    if (flags[at]) return false;
    flags[at] = 1;
    return true;
  }

  /** Whether `key` is listed and marked used. */
  isUsed(key: string): boolean {
    const i = this.find(key);
    return i !== undefined && this.used[i >>> 16]![i & (CHUNK_RECORDS - 1)] === 1;
  }

  /** Every listed object in key order, with its size and whether it is marked used. */
  *entries(): Generator<{ key: string; bytes: number; used: boolean }> {
    for (const i of this.positions()) {
      const used = this.used[i >>> 16]![i & (CHUNK_RECORDS - 1)] === 1;
      yield { key: this.keyAt(i), bytes: this.sizeAt(i), used };
    }
  }

  /** The objects marked used, in key order, with their sizes (no string made for the others). */
  *usedObjects(): Generator<[key: string, bytes: number]> {
    for (const i of this.positions())
      if (this.used[i >>> 16]![i & (CHUNK_RECORDS - 1)] === 1) yield [this.keyAt(i), this.sizeAt(i)];
  }

  /** Physical positions in key order. */
  private *positions(): Generator<number> {
    for (let n = 0; n < this.count; n += 1) yield this.order ? this.order[n]! : n;
  }

  private keyAt(i: number): string {
    const chunk = this.chunks[i >>> 16]!;
    const offset = (i & (CHUNK_RECORDS - 1)) * RECORD;
    return storeObjectKey(chunk.toString("hex", offset, offset + 32), chunk[offset + 32] === 1);
  }

  private sizeAt(i: number): number {
    return this.sizes[i >>> 16]![i & (CHUNK_RECORDS - 1)]!;
  }

  /** The physical position of `key`'s record, or undefined. */
  private find(key: string): number | undefined {
    // A backup asks about an unchanged file's object three times in a row (listed? its size?
    // first use?): the last answer is kept (positions never move once sealed).
    if (key === this.lastKey) return this.lastAt;
    const at = this.search(key);
    this.lastKey = key;
    this.lastAt = at;
    return at;
  }

  private search(key: string): number | undefined {
    const record = lookupRecord(key);
    if (!record) return undefined;
    const starts = (this.starts ??= this.bucketStarts());
    const head = record.readUInt32BE(0);
    const bucket = head >>> this.shift;
    for (let n = starts[bucket]!, end = starts[bucket + 1]!; n < end; n += 1) {
      const at = this.order ? this.order[n]! : n;
      if (this.equalAt(at, record, head)) return at;
    }
    return undefined;
  }

  /**
   * The bucket directory: keyed names are HMACs, uniformly spread, so the records whose name
   * starts with the same `bits` bits are few (2-4 on average), and a lookup finds them by
   * arithmetic instead of a binary search (~16 steps a lookup at 50,000 objects, each a cache
   * miss and a comparison: ~100-230 ms a backup's 50,000 lookups). Bucket b's records are at key
   * ranks starts[b] to starts[b + 1] - 1; 4 bytes a bucket, 1-2 bytes an object.
   */
  private bucketStarts(): Uint32Array {
    // At least one bit: a shift by 32 is a shift by 0 in JavaScript.
    const bits = Math.max(1, Math.min(24, Math.floor(Math.log2(Math.max(1, this.count))) - 1));
    this.shift = 32 - bits;
    const starts = new Uint32Array((1 << bits) + 1);
    let bucket = 0;
    for (let n = 0; n < this.count; n += 1) {
      const i = this.order ? this.order[n]! : n;
      const b = this.chunks[i >>> 16]!.readUInt32BE((i & (CHUNK_RECORDS - 1)) * RECORD) >>> this.shift;
      while (bucket <= b) starts[bucket++] = n;
    }
    while (bucket < starts.length) starts[bucket++] = this.count;
    return starts;
  }

  /** Whether record i is `record` (whose first 4 bytes are `head`), compared in JavaScript: no native call. */
  private equalAt(i: number, record: Buffer, head: number): boolean {
    const chunk = this.chunks[i >>> 16]!;
    const offset = (i & (CHUNK_RECORDS - 1)) * RECORD;
    if (chunk.readUInt32BE(offset) !== head) return false;
    for (let k = 4; k < RECORD; k += 1) if (chunk[offset + k] !== record[k]) return false;
    return true;
  }

  /** Record a against record b (most pairs differ in their first 4 bytes: no native call). */
  private compareRecords(a: number, b: number): number {
    const chunkA = this.chunks[a >>> 16]!;
    const chunkB = this.chunks[b >>> 16]!;
    const oa = (a & (CHUNK_RECORDS - 1)) * RECORD;
    const ob = (b & (CHUNK_RECORDS - 1)) * RECORD;
    const headA = chunkA.readUInt32BE(oa);
    const headB = chunkB.readUInt32BE(ob);
    if (headA !== headB) return headA < headB ? -1 : 1;
    return chunkA.compare(chunkB, ob, ob + RECORD, oa, oa + RECORD);
  }
}

/**
 * Objects this run stored (or found stored meanwhile), by an 8-byte fingerprint of their keyed
 * name in an open-addressing table: 8 bytes a slot, at most half full. `mayHave` can say yes for
 * an object this run never stored (two names sharing a fingerprint); the caller confirms with the
 * store before relying on it.
 */
export class ThisRunObjects {
  private slots = new Uint32Array(2 * 1024);
  private count = 0;

  add(key: string): void {
    const f = fingerprint(key);
    if (!f || this.probe(f[0], f[1]) >= 0) return;
    if ((this.count + 1) * 2 > this.slots.length / 2) this.grow();
    this.insert(f[0], f[1]);
    this.count += 1;
  }

  mayHave(key: string): boolean {
    const f = fingerprint(key);
    return f !== undefined && this.probe(f[0], f[1]) >= 0;
  }

  /** The slot holding (hi, lo), or -1. An empty slot is (0, 0); fingerprints never are. */
  private probe(hi: number, lo: number): number {
    const mask = this.slots.length / 2 - 1;
    for (let s = hi & mask; ; s = (s + 1) & mask) {
      const h = this.slots[2 * s]!;
      const l = this.slots[2 * s + 1]!;
      if (h === 0 && l === 0) return -1;
      if (h === hi && l === lo) return s;
    }
  }

  private insert(hi: number, lo: number): void {
    const mask = this.slots.length / 2 - 1;
    let s = hi & mask;
    while (this.slots[2 * s] !== 0 || this.slots[2 * s + 1] !== 0) s = (s + 1) & mask;
    this.slots[2 * s] = hi;
    this.slots[2 * s + 1] = lo;
  }

  private grow(): void {
    const old = this.slots;
    this.slots = new Uint32Array(old.length * 2);
    for (let s = 0; s < old.length; s += 2) if (old[s] !== 0 || old[s + 1] !== 0) this.insert(old[s]!, old[s + 1]!);
  }
}

/** The first 8 bytes of the keyed name (uniformly distributed: an HMAC) with the `.age` bit, never (0, 0). */
function fingerprint(key: string): [number, number] | undefined {
  const record = lookupRecord(key);
  if (!record) return undefined;
  const hi = record.readUInt32BE(0);
  const lo = (record.readUInt32BE(4) ^ record[32]!) >>> 0;
  return hi === 0 && lo === 0 ? [0, 1] : [hi, lo];
}
