// Before a store set's manifest, one listing must show every object the set references with its
// size (gc-lease.ts confirmReferenced, merged with the listing as both stream in key order): any
// object gone or resized fails the backup naming it, and a store listing out of key order must not
// fail a backup whose objects are all there.
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, rm, truncate } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { storeObjectKey } from "../../runner/src/contract.js";
import { confirmReferenced } from "../../runner/src/media-store/gc-lease.js";
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
