// Before a store set's manifest, one listing must show every object the set references with its
// size (gc-lease.ts confirmReferenced, merged with the listing as both stream in key order): any
// object gone or resized fails the backup naming it, and a store listing out of key order must not
// fail a backup whose objects are all there.
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, rename, rm, symlink, truncate, utimes } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { storeObjectKey } from "../../runner/src/contract.js";
import {
  GC_LEASES_PREFIX,
  confirmReferenced,
  confirmSet,
  waitOutGcLeases,
} from "../../runner/src/media-store/gc-lease.js";
import { inBatches, type ObjectStore, type StoredObject } from "../../runner/src/store/object-store.js";
import { FileStore } from "../../runner/src/store/file-store.js";

const objectKey = (seed: number, age: boolean) =>
  storeObjectKey(createHash("sha256").update(`object ${seed}`).digest("hex"), age);
const byKey = ([a]: [string, number], [b]: [string, number]) => (a < b ? -1 : a > b ? 1 : 0);

/** The same store, listed (as S3 is) rather than asked about each object. */
function listedOnly(store: FileStore): ObjectStore {
  return Object.assign(Object.create(store) as ObjectStore, { allStored: undefined });
}

/** The same store, listed in reverse key order (a store breaking its contract), in batches of 7 too. */
function reversed(store: FileStore): ObjectStore {
  async function* backwards(prefix: string): AsyncIterable<StoredObject> {
    const all: StoredObject[] = [];
    for await (const o of store.list(prefix)) all.push(o);
    yield* all.reverse();
  }
  return Object.assign(listedOnly(store), {
    list: backwards,
    listBatches: (prefix: string) => inBatches(backwards(prefix), 7),
  });
}

/** The same store with LastModified given to the second, as S3 and moto give it in a listing. */
function toTheSecond(store: FileStore): ObjectStore {
  async function* seconds(prefix: string): AsyncIterable<StoredObject> {
    for await (const o of store.list(prefix))
      yield { key: o.key, bytes: o.bytes, lastModified: new Date(Math.floor(o.lastModified.getTime() / 1000) * 1000) };
  }
  return Object.assign(listedOnly(store), {
    list: seconds,
    listBatches: (prefix: string) => inBatches(seconds(prefix)),
  });
}

describe("confirmReferenced", () => {
  it("passes exactly when every referenced object is stored with its size: asked (a folder), listed in key order or not", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.tuple(fc.nat({ max: 300 }), fc.boolean(), fc.integer({ min: 1, max: 40 })), {
          minLength: 1,
          maxLength: 30,
          selector: ([seed, age]) => `${seed}${age}`,
        }),
        fc.nat(),
        fc.constantFrom("none", "gone", "resized", "a folder"),
        fc.constantFrom("asked", "listed", "out of order"),
        async (objects, pick, damage, how) => {
          const root = await mkdtemp(path.join(tmpdir(), "confirm-"));
          try {
            const files = new FileStore(root);
            const stored: Array<[string, number]> = objects.map(([seed, age, bytes]) => [objectKey(seed, age), bytes]);
            for (const [key, bytes] of stored) await files.putStream(key, Readable.from([Buffer.alloc(bytes, 1)]));
            // An extra object the set does not reference, and junk under the prefix, change nothing.
            await files.putStream(objectKey(9999, false), Readable.from([Buffer.from("x")]));
            await files.putStream("store/objects/zz/not-an-object", Readable.from([Buffer.from("x")]));
            const referenced = [...stored].sort(byKey);
            const [victim] = referenced[pick % referenced.length]!;
            if (damage === "gone") await rm(path.join(root, victim));
            if (damage === "resized") await truncate(path.join(root, victim), 0);
            if (damage === "a folder") {
              await rm(path.join(root, victim));
              await mkdir(path.join(root, victim));
            }
            const store = how === "asked" ? files : how === "listed" ? listedOnly(files) : reversed(files);
            const confirmed = confirmReferenced(store, () => referenced);
            if (damage === "none") await expect(confirmed).resolves.toBeUndefined();
            else await expect(confirmed).rejects.toThrow(new RegExp(`no longer in the store \\(${victim}`));
          } finally {
            await rm(root, { recursive: true, force: true });
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe("waitOutGcLeases: whether the backup's own listing still holds", () => {
  // EDMS_GC_LEASE_MS=1000: a gc deletes from a mark until 1 s after its lease, plus a 1 s margin,
  // plus 1 s for LastModified given to the second: 3 s after the lease's LastModified.
  const LEASE_END_MS = 3000;
  let saved: string | undefined;
  beforeAll(() => {
    saved = process.env.EDMS_GC_LEASE_MS;
    process.env.EDMS_GC_LEASE_MS = "1000";
  });
  afterAll(() => {
    if (saved === undefined) delete process.env.EDMS_GC_LEASE_MS;
    else process.env.EDMS_GC_LEASE_MS = saved;
  });

  const listKey = "daily/20261207T000000Z-0000/media-segments.txt";

  /**
   * A fresh folder store holding the set's list and gc leases, each with its LastModified (ms, on
   * the store's clock), passed to `body`, then removed.
   */
  async function withStore(
    list: number,
    leases: readonly number[],
    body: (files: FileStore) => Promise<void>,
  ): Promise<void> {
    const root = await mkdtemp(path.join(tmpdir(), "leases-"));
    const stamp = async (key: string, at: number) => {
      await files.putSmall(key, "{}\n");
      await utimes(path.join(root, key), new Date(at), new Date(at));
    };
    const files = new FileStore(root);
    try {
      await stamp(listKey, list);
      for (const [i, at] of leases.entries()) await stamp(`${GC_LEASES_PREFIX}${i}.json`, at);
      await body(files);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  }

  it("holds exactly when every lease's deletes ended before the listing began (on the store's clock)", async () => {
    await fc.assert(
      fc.asyncProperty(
        // How long before the list was stored the listing began, and each lease's age then (ms).
        fc.integer({ min: 0, max: 20_000 }),
        fc.array(fc.integer({ min: 3_500, max: 40_000 }), { maxLength: 3 }),
        fc.boolean(),
        async (listingAgo, leaseAges, knownListing) => {
          const storedAt = performance.now();
          const now = Date.now();
          await withStore(
            now,
            leaseAges.map((age) => now - age),
            async (store) => {
              const listedFrom = knownListing ? storedAt - listingAgo : undefined;
              const r = await waitOutGcLeases(store, listKey, storedAt, undefined, listedFrom);
              // The ages all end their deletes before now: nothing to wait for.
              expect(r.waitedMs).toBe(0);
              const newestEnd = Math.max(...leaseAges.map((age) => now - age + LEASE_END_MS));
              const holds = knownListing && (leaseAges.length === 0 || newestEnd <= now - listingAgo);
              // Away from the boundary (file times and clocks move by a few ms): exactly that.
              if (leaseAges.length === 0 || Math.abs(newestEnd - (now - listingAgo)) > 100)
                expect(r.listingHolds).toBe(holds);
            },
          );
        },
      ),
      { numRuns: 60 },
    );
  });

  it("never holds while the newest lease's deletes may reach past the listing, with LastModified to the second (S3, moto)", async () => {
    await fc.assert(
      fc.asyncProperty(
        // When the listing began before the list was stored; how long (real, in ms) after the
        // newest lease's deletes ended (lease + margin: 2 s) it began, negative when they reached
        // past it; how much older the other leases are.
        fc.integer({ min: 6_000, max: 20_000 }),
        fc.integer({ min: -3_000, max: 3_000 }),
        fc.array(fc.integer({ min: 1, max: 30_000 }), { maxLength: 2 }),
        async (listingAgo, gap, older) => {
          const listedAt = Date.now(); // the list's LastModified to the millisecond
          const storedAt = performance.now();
          const lease = listedAt - listingAgo - 2000 - gap;
          await withStore(listedAt, [lease, ...older.map((o) => lease - o)], async (files) => {
            const r = await waitOutGcLeases(toTheSecond(files), listKey, storedAt, undefined, storedAt - listingAgo);
            expect(r.waitedMs).toBe(0);
            // Sound: it holds only when those deletes ended before the listing began; and no more
            // careful than the seconds cost (one for the lease's LastModified, one for the list's).
            if (r.listingHolds) expect(gap).toBeGreaterThanOrEqual(0);
            if (gap > 2_050) expect(r.listingHolds).toBe(true);
          });
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe("confirmSet", () => {
  /** A store with two reused objects and two this run stored; `refs` as ReferencedObjects gives them. */
  async function withSet(root: string) {
    const files = new FileStore(root);
    const reused: Array<[string, number]> = [];
    const stored: Array<[string, number]> = [];
    for (let i = 0; i < 4; i += 1) {
      const key = objectKey(i, false);
      await files.putSmall(key, Buffer.alloc(10 + i, 1));
      (i < 2 ? reused : stored).push([key, 10 + i]);
    }
    const refs = {
      sorted: () => [...reused, ...stored].sort(byKey),
      storedSorted: () => [...stored].sort(byKey),
    };
    return { files, reused, stored, refs };
  }

  it("with the listing holding, asks a folder about this run's objects only; otherwise about every one", async () => {
    const root = await mkdtemp(path.join(tmpdir(), "confirm-set-"));
    try {
      const { files, reused, refs } = await withSet(root);
      await rm(path.join(root, reused[0]![0]));
      // Gone by hand while the backup ran, with no gc lease: the listing's proof stands (verify finds it).
      await expect(confirmSet(files, refs, { waitedMs: 0, listingHolds: true })).resolves.toBeUndefined();
      // A gc's deletes may reach past the listing: every object is checked, the gone one named.
      await expect(confirmSet(files, refs, { waitedMs: 0, listingHolds: false })).rejects.toThrow(
        new RegExp(`no longer in the store \\(${reused[0]![0]}.*gc deleted it`),
      );
      // On S3 (listed, not asked) with the listing holding: nothing to ask.
      await expect(
        confirmSet(
          listedOnly(files),
          { ...refs, storedSorted: () => [["store/objects/00/none", 1]] },
          {
            waitedMs: 0,
            listingHolds: true,
          },
        ),
      ).resolves.toBeUndefined();
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it("an object this run stored behind a symlinked folder fails the backup with what to do, not a gc story", async () => {
    const root = await mkdtemp(path.join(tmpdir(), "confirm-set-"));
    try {
      const { files, stored, refs } = await withSet(root);
      const folder = path.dirname(path.join(root, stored[0]![0]));
      await rename(folder, `${folder}-moved`);
      await symlink(`${folder}-moved`, folder);
      const confirmed = confirmSet(files, refs, { waitedMs: 0, listingHolds: true });
      await expect(confirmed).rejects.toThrow(/this backup stored is not where a listing of the store finds it/);
      await expect(confirmed).rejects.toThrow(/make every folder under store\/objects\/ a real folder again/);
      await expect(confirmed).rejects.not.toThrow(/gc deleted/);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
