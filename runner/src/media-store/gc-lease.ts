/**
 * How a backup and a concurrent gc never lose an object (docs/MANIFEST.md, "gc"). A backup reuses
 * objects it saw in the store; gc deletes objects no object list references. The race: gc reads
 * the object lists (its mark), a backup then stores its list and checks its objects are there,
 * and gc, deciding from its older mark, deletes one. Both sides write, then read:
 *
 * - gc writes a lease (`store/gc/leases/...`) BEFORE each mark, and deletes from that mark only
 *   until GC_LEASE_MS after it started writing the lease (then it writes a new lease and marks
 *   again);
 * - a backup, AFTER its object list is stored, lists the leases and waits until the newest is
 *   GC_LEASE_MS + GC_LEASE_MARGIN_MS old, then lists the store and fails (no manifest) if an
 *   object it references is gone.
 *
 * A lease the backup does not see was written after the backup's list, so that gc's mark sees the
 * list and keeps its objects; a lease it sees has stopped deleting from its mark by the time the
 * backup checks, so the check sees every delete made from a mark that missed the list. Times are
 * compared on the store's clock (the lease's and the list's LastModified) plus elapsed time on
 * this machine, never between two hosts' clocks. The margin covers a delete request in flight when
 * the lease ends (gc's deletes give up after half of it).
 *
 * The check needs no second listing when every lease it sees had stopped deleting before the
 * backup's own listing of the store began (the usual case: gc runs at another hour): that listing
 * then already saw every delete any gc made, so what it listed is still there, and an object the
 * backup stored after it was stored after every delete. A second listing cost a second backup of
 * 50,000 files ~330 ms on a folder (a lstat an object), and ~10,000 LIST requests per run at
 * 10,000,000 objects on S3. What this does not catch, as no check before the manifest can catch a
 * delete after it: an object deleted by something other than gc (by hand) while the backup ran;
 * `verify` lists every set's objects and does (docs/MANIFEST.md, "gc").
 */
import { STORE_GC_PREFIX, STORE_OBJECTS_PREFIX } from "../contract.js";
import { RunnerError } from "../errors.js";
import type { Logger } from "../output/logger.js";
import type { ObjectStore, StoredObject } from "../store/object-store.js";
import { ObjectCatalog } from "./object-catalog.js";

export const GC_LEASES_PREFIX = `${STORE_GC_PREFIX}leases/`;
const GC_LEASE_MS = 60_000;
const GC_LEASE_MARGIN_MS = 60_000;

/**
 * The lease and its margin. EDMS_GC_LEASE_MS shortens both for the interleaving tests only; like
 * EDMS_FAULT_POINT it is outside the env contract, and no stack or pod sets it.
 */
export function gcLeaseTiming(env: NodeJS.ProcessEnv = process.env): { leaseMs: number; marginMs: number } {
  const override = Number(env.EDMS_GC_LEASE_MS);
  return Number.isInteger(override) && override > 0
    ? { leaseMs: override, marginMs: override }
    : { leaseMs: GC_LEASE_MS, marginMs: GC_LEASE_MARGIN_MS };
}

async function lastModifiedOf(store: ObjectStore, key: string): Promise<number | undefined> {
  for await (const o of store.list(key)) if (o.key === key) return o.lastModified.getTime();
  return undefined;
}

export interface LeaseWait {
  /** Milliseconds waited for a gc's lease to end. */
  waitedMs: number;
  /**
   * No gc can have deleted an object since `listedFrom` (on the store's clock): the backup's
   * listing, begun then, still holds.
   */
  listingHolds: boolean;
}

/**
 * Called right after the backup's object list is stored (`listKey`, `storedAt` = performance.now()
 * when the store confirmed it): waits until no gc may still be deleting from a mark that missed
 * the list. `listedFrom` is performance.now() just before the backup's listing of the store began
 * (ObjectCatalog.listedFrom), when it has one.
 */
export async function waitOutGcLeases(
  store: ObjectStore,
  listKey: string,
  storedAt: number,
  log?: Logger,
  listedFrom?: number,
): Promise<LeaseWait> {
  let newest: number | undefined;
  for await (const lease of store.list(GC_LEASES_PREFIX)) newest = Math.max(newest ?? 0, lease.lastModified.getTime());
  // No lease: no gc has deleted anything, and one that writes its lease now marks from the list.
  if (newest === undefined) return { waitedMs: 0, listingHolds: listedFrom !== undefined };
  const listTime = await lastModifiedOf(store, listKey);
  if (listTime === undefined) throw new RunnerError(`${listKey} is not in the store right after it was stored`);
  const { leaseMs, marginMs } = gcLeaseTiming();
  // + 1 s: S3 gives LastModified to the second, so the lease may be up to a second younger.
  const deletesEnd = newest + leaseMs + marginMs + 1000;
  // The store's clock at a moment here is at least the list's LastModified plus what elapsed here
  // since the list was stored (minus what elapsed before it, for an earlier moment).
  const listingHolds = listedFrom !== undefined && deletesEnd <= listTime - (storedAt - listedFrom);
  const wait = Math.ceil(deletesEnd - (listTime + (performance.now() - storedAt)));
  if (wait <= 0) return { waitedMs: 0, listingHolds };
  log?.info(
    { stage: "gc-lease", waitMs: wait },
    `a gc run may be deleting content objects; waiting ${Math.ceil(wait / 1000)} s before checking this backup's objects`,
  );
  await new Promise((resolve) => setTimeout(resolve, wait));
  return { waitedMs: wait, listingHolds };
}

/**
 * Whether one listing of the store has every referenced object with its size: the two streams,
 * both in key order, merged as they come, so memory does not grow with the store.
 */
async function allListed(store: ObjectStore, referenced: Iterable<[key: string, bytes: number]>): Promise<boolean> {
  const batches = store.listBatches(STORE_OBJECTS_PREFIX)[Symbol.asyncIterator]();
  try {
    let batch: StoredObject[] = [];
    let at = 0;
    for (const [key, bytes] of referenced) {
      // Past the listed objects before `key`, across batches (one await a batch, not an object).
      for (;;) {
        if (at === batch.length) {
          const next = await batches.next();
          if (next.done) return false;
          batch = next.value;
          at = 0;
        } else if (batch[at]!.key < key) at += 1;
        else break;
      }
      const listed = batch[at]!;
      if (listed.key !== key || listed.bytes !== bytes) return false;
    }
    return true;
  } finally {
    await batches.return?.();
  }
}

/** A set's references (object-list.ts ReferencedObjects): all, or only those not from the listing. */
export interface SetReferences {
  sorted(): Iterable<[key: string, bytes: number]>;
  storedSorted(): Iterable<[key: string, bytes: number]>;
}

/**
 * The check before the manifest, after waitOutGcLeases: when no gc can have deleted since the
 * backup's listing, only what this run stored itself is asked about, and only on a store that can
 * hold a put where its listing does not look (a folder: behind a symlinked folder, which the
 * listing, verify and gc never enter); on S3 a put's success is its proof. Otherwise every
 * referenced object (confirmReferenced).
 */
export async function confirmSet(store: ObjectStore, references: SetReferences, lease: LeaseWait): Promise<void> {
  if (!lease.listingHolds) return confirmReferenced(store, () => references.sorted());
  if (store.allStored) await confirmReferenced(store, () => references.storedSorted(), "stored");
}

/**
 * One listing of the store after the object list is stored (and after waitOutGcLeases): every
 * object the set references must be there with the size its index records, or the manifest is
 * never written. `referenced()` gives each key once, in key order (ReferencedObjects.sorted), and
 * is merged with the listing (a catalog of the listing was the backup's largest allocation after
 * the walk: ~42 MB at 1,000,000 objects); a folder is asked about each referenced object instead
 * (allStored: the same facts, without reading the objects the set does not use). Only when that
 * misses one (gone, resized, or a store listing out of key order) is a catalog of a fresh listing
 * read, which names exactly what is gone: a later listing proves as much (gc only deletes).
 * `stored`: the keys are objects this run just stored, which no gc can have deleted (confirmSet).
 */
export async function confirmReferenced(
  store: ObjectStore,
  referenced: () => Iterable<[key: string, bytes: number]>,
  which: "reused" | "stored" = "reused",
): Promise<void> {
  const stored = store.allStored ? store.allStored(referenced()) : allListed(store, referenced());
  if (await stored) return;
  const listed = await ObjectCatalog.fromListing(store);
  const gone: string[] = [];
  for (const [key, bytes] of referenced()) if (listed.bytesOf(key) !== bytes) gone.push(key);
  if (gone.length === 0) return;
  const n = gone.length;
  const named = `${n} content object${n === 1 ? "" : "s"}`;
  const keys = `(${gone.slice(0, 3).join(", ")}${n > 3 ? ", ..." : ""})`;
  throw new RunnerError(
    which === "reused"
      ? `${named} this backup reuses ${n === 1 ? "is" : "are"} no longer in the store ${keys}: gc deleted ${n === 1 ? "it" : "them"} while the backup ran. ` +
          "No manifest was written; run the backup again (it stores them anew)"
      : `${named} this backup stored ${n === 1 ? "is" : "are"} not where a listing of the store finds ${n === 1 ? "it" : "them"} ${keys}: ` +
          "a folder under store/objects/ is a symlink or not a folder, or something changed the store while the backup ran. " +
          "No manifest was written; make every folder under store/objects/ a real folder again, then run the backup again",
  );
}
