/**
 * Writes a folder store never finished: the hidden partial file a write goes to before it is
 * linked into place (file-store.ts commit), left behind only when the writing process was killed
 * (SIGKILL, a node lost) before it could remove it. No set references one and no listing of
 * content objects counts one; gc removes those older than its grace (at least an hour, so a write
 * in progress, whose file's mtime moves with every write, is never one of them).
 */
import { isPartialKey } from "../store/file-store.js";
import type { ObjectStore, StoredObject } from "../store/object-store.js";

const MIN_AGE_MS = 3_600_000;

export class UnfinishedWrites {
  readonly stale: StoredObject[] = [];
  private readonly before: number;

  constructor(startedAt: Date, graceMs: number) {
    this.before = startedAt.getTime() - Math.max(graceMs, MIN_AGE_MS);
  }

  /** A listed key that is not a content object's (ObjectCatalog.fromListing's `other`). */
  readonly note = (o: StoredObject): void => {
    if (isPartialKey(o.key) && o.lastModified.getTime() < this.before) this.stale.push(o);
  };

  get summary(): { objects: number; bytes: number } {
    return { objects: this.stale.length, bytes: this.stale.reduce((sum, o) => sum + o.bytes, 0) };
  }

  async remove(store: ObjectStore): Promise<void> {
    if (this.stale.length && store.delete) await store.delete(this.stale.map((o) => o.key));
  }
}
