/**
 * How a store backup stores one content object or metadata chunk (store-writer.ts): reused when
 * the store's listing has it, looked up when this run stored it already, else written (in one call
 * from its bytes, or streamed, age-encrypted when the set has recipients), with the answers that
 * count it once. A failed run waits for the writes in flight (settled) before it reports.
 */
import { Readable, pipeline } from "node:stream";
import { choosePartSize } from "../store/part-size.js";
import { encryptStream } from "../stages/age-encrypt.js";
import { DigestMeter } from "../stages/digest-meter.js";
import { AlreadyExistsError, type ObjectStore } from "../store/object-store.js";
import { ThisRunObjects, type ObjectCatalog } from "./object-catalog.js";
import type { ContentLock, ObjectRetention } from "./object-retention.js";
import type { StoreWriteStats } from "./store-writer.js";

/** What storing an object answers: its stored size, whether this is the set's first reference to
 * it (what `stats.objects` counts) and, under Object Lock, the date its retention reaches. */
export interface StoredObjectAnswer {
  bytes: number;
  first: boolean;
  lockUntilMs?: number;
}

export interface ObjectWriterOptions {
  store: ObjectStore;
  recipients?: readonly string[];
  retention?: ObjectRetention;
  /** The run's stats (store-writer.ts), counted here for uploads and reuses. */
  stats: StoreWriteStats;
  partSizeMiB?: number;
  contentLock?: ContentLock;
  /** The store's objects at the start (one listing), once listed. */
  listed: () => ObjectCatalog;
  /** The run's failure, once it has one: nothing new is written after it. */
  failure: () => Error | undefined;
}

/** The retention a HeadObject just showed (the object needs no second look when it is late enough). */
const headLock = (head: { lock?: { retainUntil: Date } }) => head.lock?.retainUntil.getTime();

export class ObjectWriter {
  /**
   * The store writes in flight. A failed run waits for them before it reports (and the process
   * exits): on file:// a write cut short by the exit left its hidden partial file in
   * store/objects/, which nothing removes. None starts after a failure; streamed ones are
   * destroyed by `destroy`, and a small one is one write.
   */
  private readonly writes = new Set<Promise<void>>();
  /**
   * The keys of the new objects being written, with how many writes of each: a second name of
   * one content can be refused as stored (AlreadyExists) while the answer to the first write is
   * still on its way, and must not count the object again (storedMeanwhile).
   */
  private readonly writingKeys = new Map<string, number>();
  /** Objects this run stored (not in the listing). */
  private readonly stored = new ThisRunObjects();
  /** Streamed bodies being written. */
  private readonly active = new Set<Readable>();
  /** A new content object's type and, under Object Lock, its retention (streamed or in one call). */
  private readonly contentPut: { contentType: string; lock?: { mode: ContentLock["mode"]; retainUntil: Date } };

  constructor(private readonly o: ObjectWriterOptions) {
    this.contentPut = {
      contentType: "application/octet-stream",
      lock: o.contentLock && { mode: o.contentLock.mode, retainUntil: o.contentLock.extendTo },
    };
  }

  /** Ends the streamed bodies being written (the run failed). */
  destroy(reason: Error): void {
    for (const body of this.active) body.destroy(reason);
  }

  /** Resolves when no write is in flight (one may end, or start a chunk's, while others are awaited). */
  async settled(): Promise<void> {
    while (this.writes.size > 0) await Promise.allSettled([...this.writes]);
  }

  /**
   * Stores one content object unless the store has it (`lockKnown`: a date its retention was
   * known to reach already). A metadata chunk (`chunk`) comes encoded already and is counted
   * apart from the files' objects. A body given as bytes (a small file, a chunk) is stored in one
   * call when it is not to be encrypted: a stream, a meter and a pipeline an object cost ~3x the
   * CPU of the writes (a 1% change of 50,000 files, issue 22).
   */
  async store(
    objectKey: string,
    size: number,
    body: () => Promise<Readable | Buffer>,
    lockKnown: number | undefined,
    chunk = false,
  ): Promise<StoredObjectAnswer> {
    const { store, retention, stats, recipients } = this.o;
    const listed = this.o.listed();
    const have = listed.bytesOf(objectKey);
    if (have !== undefined) {
      const first = listed.markUsed(objectKey);
      if (first && !chunk) stats.reusedObjects += 1;
      return { bytes: have, first, lockUntilMs: await retention?.ensure(objectKey, lockKnown) };
    }
    // Stored earlier in this run (a second name for one content): the store says its size.
    if (this.stored.mayHave(objectKey)) {
      const head = await store.head(objectKey);
      if (head)
        return { bytes: head.bytes, first: false, lockUntilMs: await retention?.ensure(objectKey, headLock(head)) };
    }
    const content = await body();
    const failure = this.o.failure();
    if (failure) {
      if (content instanceof Readable) content.destroy();
      throw failure;
    }
    const sealing = recipients !== undefined && !chunk;
    if (!(content instanceof Readable) && !sealing) return this.storeBytes(objectKey, content, chunk);
    const plain = content instanceof Readable ? content : Readable.from([content]);
    this.active.add(plain);
    const sealed = sealing ? encryptStream(plain, recipients) : undefined;
    const meter = new DigestMeter();
    pipeline(sealed ? sealed.stream : plain, meter, () => undefined);
    try {
      await Promise.all([
        this.writing(
          objectKey,
          store.putStream(objectKey, meter, {
            partSize: choosePartSize(size * 1.01 + 4096, this.o.partSizeMiB),
            queueSize: 1,
            ...this.contentPut,
          }),
        ),
        sealed?.exited,
      ]);
    } catch (error) {
      sealed?.stop();
      this.written(objectKey);
      if (!(error instanceof AlreadyExistsError)) throw error;
      return this.storedMeanwhile(objectKey, error);
    } finally {
      this.active.delete(plain);
    }
    return this.uploaded(objectKey, meter.bytes, chunk);
  }

  /** A new object's bytes, in one call (store); the store's copy is used when it has one meanwhile. */
  private async storeBytes(objectKey: string, bytes: Buffer, chunk: boolean): Promise<StoredObjectAnswer> {
    try {
      await this.writing(objectKey, this.o.store.putSmall(objectKey, bytes, this.contentPut));
    } catch (error) {
      this.written(objectKey);
      if (!(error instanceof AlreadyExistsError)) throw error;
      return this.storedMeanwhile(objectKey, error);
    }
    return this.uploaded(objectKey, bytes.length, chunk);
  }

  private writing(objectKey: string, write: Promise<void>): Promise<void> {
    const { writes, writingKeys } = this;
    writes.add(write);
    writingKeys.set(objectKey, (writingKeys.get(objectKey) ?? 0) + 1);
    const forget = () => void writes.delete(write);
    write.then(forget, forget);
    return write;
  }

  /** A write of `objectKey` is over: called in the same turn as what counts it (uploaded, storedMeanwhile). */
  private written(objectKey: string): void {
    const left = this.writingKeys.get(objectKey)! - 1;
    if (left > 0) this.writingKeys.set(objectKey, left);
    else this.writingKeys.delete(objectKey);
  }

  /**
   * Counts an object this run stored, once: a store whose conditional writes are not atomic (moto
   * checks, then writes) can let two writes of one key both succeed; only the first counts. (Two
   * keys sharing ThisRunObjects' 8-byte fingerprint would undercount the stats by one, never lose
   * an object: ~1 run in 10^7 at 1,000,000 new objects.)
   */
  private uploaded(objectKey: string, bytes: number, chunk: boolean): StoredObjectAnswer {
    this.written(objectKey);
    const { stats, retention } = this.o;
    const lockUntilMs = retention?.lock.extendTo.getTime();
    if (this.stored.mayHave(objectKey)) return { bytes, first: false, lockUntilMs };
    this.stored.add(objectKey);
    if (chunk) {
      stats.uploadedChunks += 1;
      stats.uploadedChunkBytes += bytes;
    } else {
      stats.uploadedObjects += 1;
      stats.uploadedBytes += bytes;
    }
    return { bytes, first: true, lockUntilMs };
  }

  /** Stored meanwhile (two names with one content, or another run): the store's copy is used. */
  private async storedMeanwhile(objectKey: string, error: Error): Promise<StoredObjectAnswer> {
    const head = await this.o.store.head(objectKey);
    if (!head) throw error;
    // Not the first reference when this run stored it; nor while a write of it is still out: that
    // write counts it when it succeeds (uploaded), or decides here when it is refused too.
    const writingNow = this.writingKeys.has(objectKey);
    const first = !writingNow && !this.stored.mayHave(objectKey);
    if (!writingNow) this.stored.add(objectKey);
    return { bytes: head.bytes, first, lockUntilMs: await this.o.retention?.ensure(objectKey, headLock(head)) };
  }
}
