// A set's references (object-list.ts ReferencedObjects) are the start's catalog's "used" marks
// plus the keys this run stored; what the object list and the check before the manifest read
// back must be exactly the distinct referenced keys, in key order, each with its stored size
// (the listing's for listed objects), and each listed object's first reference reported once.
import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { storeObjectKey } from "../../runner/src/contract.js";
import { ObjectCatalog } from "../../runner/src/media-store/object-catalog.js";
import { ReferencedObjects } from "../../runner/src/media-store/object-list.js";

const name = (seed: number) => createHash("sha256").update(`object ${seed}`).digest("hex");
const objectKey = fc.tuple(fc.nat({ max: 300 }), fc.boolean()).map(([seed, age]) => storeObjectKey(name(seed), age));
const byKey = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

describe("ReferencedObjects", () => {
  it("gives every referenced key once, in key order, with its size; a listed one's first reference once", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(objectKey, { maxLength: 100 }),
        fc.array(objectKey, { maxLength: 150 }),
        fc.boolean(),
        (listedKeys, references, shuffle) => {
          const listedSize = new Map(listedKeys.map((k, i) => [k, i * 1000 + 7]));
          const listing = [...listedSize.entries()].sort(([a], [b]) => byKey(a, b));
          if (shuffle) listing.reverse();
          const catalog = new ObjectCatalog();
          for (const [k, bytes] of listing) catalog.add(k, bytes);
          catalog.seal();
          const referenced = new ReferencedObjects(catalog);
          // A stored object's size as the store said (the same each time it is met).
          const storedSize = (k: string) => k.length + 3;
          const expected = new Map<string, number>();
          for (const k of references) {
            const listed = listedSize.get(k);
            expect(referenced.add(k, listed ?? storedSize(k)), k).toBe(listed !== undefined && !expected.has(k));
            expected.set(k, listed ?? storedSize(k));
          }
          const inOrder = [...expected.keys()].sort(byKey);
          expect([...referenced.sorted()]).toEqual(inOrder.map((k) => [k, expected.get(k)]));
          // Read twice (the object list, then the check before the manifest): the same.
          expect([...referenced.sorted()]).toEqual(inOrder.map((k) => [k, expected.get(k)]));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("refuses a key that is not a content object's", () => {
    const referenced = new ReferencedObjects(new ObjectCatalog());
    expect(() => referenced.add("daily/x/manifest.json", 1)).toThrow(/not a content object's key/);
  });
});
