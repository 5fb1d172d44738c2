// A set's references (object-list.ts ReferencedObjects) are the start's catalog's "used" marks
// plus the keys this run stored; what the object list and the check before the manifest read
// back must be exactly the distinct referenced keys, in key order, each with its stored size
// (the listing's for listed objects), and each listed object's first reference reported once.
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { storeObjectKey } from "../../runner/src/contract.js";
import { ObjectCatalog } from "../../runner/src/media-store/object-catalog.js";
import { ReferencedObjects } from "../../runner/src/media-store/object-list.js";
import { RunnerError } from "../../runner/src/errors.js";

const name = (seed: number) => createHash("sha256").update(`object ${seed}`).digest("hex");
const objectKey = fc.tuple(fc.nat({ max: 300 }), fc.boolean()).map(([seed, age]) => storeObjectKey(name(seed), age));
const byKey = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

describe("ReferencedObjects", () => {
  let spillDir: string;
  beforeEach(() => {
    spillDir = mkdtempSync(join(tmpdir(), "referenced-objects-"));
  });
  afterEach(() => rmSync(spillDir, { recursive: true, force: true }));

  it("gives every referenced key once, in key order, with its size; a listed one's first reference once", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(objectKey, { maxLength: 100 }),
        fc.array(objectKey, { maxLength: 150 }),
        fc.boolean(),
        fc.option(fc.nat({ max: 40 }), { nil: undefined }),
        (listedKeys, references, shuffle, spillAt) => {
          const listedSize = new Map(listedKeys.map((k, i) => [k, i * 1000 + 7]));
          const listing = [...listedSize.entries()].sort(([a], [b]) => byKey(a, b));
          if (shuffle) listing.reverse();
          const catalog = new ObjectCatalog();
          for (const [k, bytes] of listing) catalog.add(k, bytes);
          catalog.seal();
          // spillAt: the stored keys go to bucket files in TMPDIR after that many (key-records.ts).
          const referenced = new ReferencedObjects(catalog, { spillAt, tmpDir: spillDir });
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
          referenced.dispose();
          expect(readdirSync(spillDir)).toEqual([]);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("keeps many stored keys in bucket files, sorted and distinct as in memory, and removes them", () => {
    // 20,000 references to 12,000 objects (keyed names: uniform), 100 records in memory at most.
    const keys = Array.from({ length: 20_000 }, (_, i) => storeObjectKey(name(i % 12_000), i % 5 === 0));
    const inMemory = new ReferencedObjects(new ObjectCatalog());
    const spilled = new ReferencedObjects(new ObjectCatalog(), { spillAt: 100, tmpDir: spillDir });
    for (const [i, k] of keys.entries()) {
      inMemory.add(k, i % 12_000);
      spilled.add(k, i % 12_000);
    }
    expect(readdirSync(spillDir)).toHaveLength(1);
    const expected = [...new Set(keys)].sort(byKey);
    const got = [...spilled.sorted()];
    expect(got.map(([k]) => k)).toEqual(expected);
    expect(got).toEqual([...inMemory.sorted()]);
    spilled.dispose();
    expect(readdirSync(spillDir)).toEqual([]);
  });

  it("says what to do when TMPDIR cannot hold the stored keys", () => {
    const referenced = new ReferencedObjects(new ObjectCatalog(), { spillAt: 2, tmpDir: join(spillDir, "missing") });
    referenced.add(storeObjectKey(name(1), false), 1);
    referenced.add(storeObjectKey(name(2), false), 1);
    const third = () => referenced.add(storeObjectKey(name(3), false), 1);
    expect(third).toThrow(RunnerError);
    expect(third).toThrow(
      /could not keep the list of this backup's new content objects in .*missing.*give TMPDIR room/,
    );
  });

  it("refuses a key that is not a content object's", () => {
    const referenced = new ReferencedObjects(new ObjectCatalog());
    expect(() => referenced.add("daily/x/manifest.json", 1)).toThrow(/not a content object's key/);
  });
});
