/**
 * What the runner needs from a place that holds backups. Keys are relative to the destination
 * (the S3 prefix or the folder), always with "/" separators.
 */
import type { Readable } from "node:stream";

export interface PutStreamOptions {
  /** Multipart part size (S3); ignored by stores that write sequentially. */
  partSize: number;
  /** Parts in flight at once (S3). */
  queueSize: number;
  contentType: string;
  /** Object Lock retention for this object, when the bucket has Object Lock enabled. */
  lock?: ObjectLockRetention;
}

export interface ObjectLockRetention {
  mode: "GOVERNANCE" | "COMPLIANCE";
  retainUntil: Date;
}

export interface ObjectHead {
  bytes: number;
  /** Object Lock: the object may not be deleted before lock.retainUntil (absent: no retention). */
  lock?: ObjectLockRetention;
  /** Object Lock: a legal hold is on (no delete until it is lifted). */
  legalHold?: boolean;
}

export interface StoredObject {
  key: string;
  bytes: number;
  lastModified: Date;
}

/** A multipart upload that was started and never completed nor aborted. */
export interface UnfinishedUpload {
  /** Relative to the destination, like StoredObject.key. */
  key: string;
  uploadId: string;
  /** When the store says the upload was started. */
  initiated: Date;
  /** Bytes of the parts already stored (what the upload costs); 0 when not asked for. */
  bytes: number;
}

export interface ObjectStore {
  /** Human-readable, secret-free location, e.g. s3://bucket/prefix. */
  readonly display: string;
  /**
   * Streams `body` into a new object. Resolves only when the whole object is stored; rejects (and
   * leaves no partial object or unfinished multipart upload behind) when `body` errors. Refuses to
   * replace an existing object.
   */
  putStream(key: string, body: Readable, options: PutStreamOptions): Promise<void>;
  /**
   * Writes a small object in one request; refuses to replace an existing one. A Buffer is stored
   * as it is (a small media file's content or a metadata chunk: no stream an object).
   */
  putSmall(
    key: string,
    body: string | Buffer,
    options: { contentType: string; lock?: PutStreamOptions["lock"] },
  ): Promise<void>;
  /** Reads an object; rejects with NotFoundError when it does not exist. */
  get(key: string): Promise<Readable>;
  /**
   * The file holding an object (a folder only): the restore's placer workers read small objects
   * with synchronous calls beside the main thread (the per-file cost at 100 KiB is the calls, not
   * the bytes; BENCHMARKS.md). Whether it exists is found by opening it.
   */
  objectFile?(key: string): string;
  /**
   * Size of an object, or undefined when it does not exist; on S3 also its Object Lock retention
   * when it has one, and whether a legal hold is on (the caller may read them: s3:GetObjectRetention).
   */
  head(key: string): Promise<ObjectHead | undefined>;
  /**
   * Sets an object's Object Lock retention (PutObjectRetention, never with a governance bypass: S3
   * refuses to shorten it). Absent on stores without Object Lock (a folder).
   */
  setRetention?(key: string, lock: ObjectLockRetention): Promise<void>;
  /**
   * Deletes objects (no version id: on a versioned bucket a delete marker hides the object and its
   * bytes stay as a noncurrent version). Only gc and file:// prune delete.
   */
  delete?(keys: readonly string[]): Promise<void>;
  /** Every object under `prefix`, in key order. */
  list(prefix: string): AsyncIterable<StoredObject>;
  /**
   * The same objects as list(prefix), in the same order, a batch at a time (a folder's files; an
   * S3 page; never empty). Listings of the whole content store (every store-format backup makes
   * two) use it: one await a batch instead of one an object. A store with nothing better gives
   * inBatches(this.list(prefix)).
   */
  listBatches(prefix: string): AsyncIterable<StoredObject[]>;
  /**
   * Whether every one of `objects` is stored with exactly its size, asked of each object directly
   * (a folder only: one lstat(2) each, where a listing would read every folder and stat every
   * object, referenced or not: the check before a store set's manifest, 30% less CPU at 85,000
   * objects). Stores without it are listed (gc-lease.ts confirmReferenced).
   */
  allStored?(objects: Iterable<[key: string, bytes: number]>): Promise<boolean>;
  /**
   * Unfinished multipart uploads under the destination, with their parts' bytes when `sizes`.
   * Absent on stores without multipart uploads (a folder: a killed run's partial file is an
   * ordinary file there, listed with its incomplete set).
   */
  listUnfinishedUploads?(options: { sizes: boolean }): Promise<UnfinishedUpload[]>;
  /** Aborts one unfinished multipart upload (its parts are freed). */
  abortUpload?(upload: Pick<UnfinishedUpload, "key" | "uploadId">): Promise<void>;
}

/** Objects a listing yields one at a time, in batches of up to `size` (order kept). */
export async function* inBatches(objects: AsyncIterable<StoredObject>, size = 1000): AsyncIterable<StoredObject[]> {
  let batch: StoredObject[] = [];
  for await (const object of objects) {
    batch.push(object);
    if (batch.length === size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

export class NotFoundError extends Error {
  constructor(readonly key: string) {
    super(`object not found: ${key}`);
    this.name = "NotFoundError";
  }
}

export class AlreadyExistsError extends Error {
  constructor(readonly key: string) {
    super(`refusing to overwrite existing object ${key}`);
    this.name = "AlreadyExistsError";
  }
}
