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

/**
 * Called right after the backup's object list is stored (`listKey`, `storedAt` = performance.now()
 * when the store confirmed it): waits until no gc may still be deleting from a mark that missed
 * the list. Returns the milliseconds waited.
 */
export async function waitOutGcLeases(
  store: ObjectStore,
  listKey: string,
  storedAt: number,
  log?: Logger,
): Promise<number> {
  let newest: number | undefined;
  for await (const lease of store.list(GC_LEASES_PREFIX)) newest = Math.max(newest ?? 0, lease.lastModified.getTime());
  if (newest === undefined) return 0;
  const listTime = await lastModifiedOf(store, listKey);
  if (listTime === undefined) throw new RunnerError(`${listKey} is not in the store right after it was stored`);
  const { leaseMs, marginMs } = gcLeaseTiming();
  // The store's clock now is at least the list's LastModified plus what elapsed here since.
  const storeNow = listTime + (performance.now() - storedAt);
  // + 1 s: S3 gives LastModified to the second, so the lease may be up to a second younger.
  const wait = Math.ceil(newest + leaseMs + marginMs + 1000 - storeNow);
  if (wait <= 0) return 0;
  log?.info(
    { stage: "gc-lease", waitMs: wait },
    `a gc run may be deleting content objects; waiting ${Math.ceil(wait / 1000)} s before checking this backup's objects`,
  );
  await new Promise((resolve) => setTimeout(resolve, wait));
  return wait;
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

/**
 * One listing of the store after the object list is stored (and after waitOutGcLeases): every
 * object the set references must be there with the size its index records, or the manifest is
 * never written. `referenced()` gives each key once, in key order (ReferencedObjects.sorted), and
 * is merged with the listing (a catalog of the listing was the backup's largest allocation after
 * the walk: ~42 MB at 1,000,000 objects); a folder is asked about each referenced object instead
 * (allStored: the same facts, without reading the objects the set does not use). Only when that
 * misses one (gone, resized, or a store listing out of key order) is a catalog of a fresh listing
 * read, which names exactly what is gone: a later listing proves as much (gc only deletes).
 */
export async function confirmReferenced(
  store: ObjectStore,
  referenced: () => Iterable<[key: string, bytes: number]>,
): Promise<void> {
  const stored = store.allStored ? store.allStored(referenced()) : allListed(store, referenced());
  if (await stored) return;
  const listed = await ObjectCatalog.fromListing(store);
  const gone: string[] = [];
  for (const [key, bytes] of referenced()) if (listed.bytesOf(key) !== bytes) gone.push(key);
  if (gone.length === 0) return;
  throw new RunnerError(
    `${gone.length} content object${gone.length === 1 ? "" : "s"} this backup reuses ${gone.length === 1 ? "is" : "are"} no longer in the store ` +
      `(${gone.slice(0, 3).join(", ")}${gone.length > 3 ? ", ..." : ""}): gc deleted ${gone.length === 1 ? "it" : "them"} while the backup ran. ` +
      "No manifest was written; run the backup again (it stores them anew)",
  );
}
