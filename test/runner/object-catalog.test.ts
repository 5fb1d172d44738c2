// The store's listing held compactly (object-catalog.ts) must answer exactly as a Map of the
// listed keys would: every listed content object found with its size, nothing else found, each
// object's first use reported once, and (gc) every object given back in key order with its mark;
// in key order or not (a store that lists out of order).
import { hash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { STORE_OBJECT_KEY_RE, storeObjectKey } from "../../runner/src/contract.js";
import { ObjectCatalog, ThisRunObjects, writeRecord } from "../../runner/src/media-store/object-catalog.js";

const name = (seed: number) => hash("sha256", `object ${seed}`);
const objectKey = fc.tuple(fc.nat({ max: 400 }), fc.boolean()).map(([seed, age]) => storeObjectKey(name(seed), age));

describe("ObjectCatalog", () => {
  it("answers as a Map of the listed keys would, sorted or not", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(objectKey, { maxLength: 120 }),
        fc.array(objectKey, { maxLength: 60 }),
        fc.boolean(),
        fc.array(fc.constantFrom("store/objects/zz/nothex", "daily/x/manifest.json", "store/objects/ab/ab"), {
          maxLength: 3,
        }),
        (keys, probes, shuffle, junk) => {
          const oracle = new Map(keys.map((k, i) => [k, i * 1000 + 7]));
          const listing = [...oracle.entries(), ...junk.map((k) => [k, 1] as [string, number])];
          listing.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
          if (shuffle) listing.reverse();
          const catalog = new ObjectCatalog();
          for (const [k, bytes] of listing) catalog.add(k, bytes);
          catalog.seal();
          expect(catalog.size).toBe(oracle.size);
          for (const k of [...keys, ...probes, ...junk]) {
            expect(catalog.bytesOf(k), k).toBe(oracle.get(k));
            expect(catalog.has(k)).toBe(oracle.has(k));
          }
          // Marked: the probes (a set's list names listed and unlisted objects alike), not every key.
          const used = new Set<string>();
          for (const k of [...probes, ...junk]) {
            expect(catalog.markUsed(k)).toBe(oracle.has(k) && !used.has(k));
            if (oracle.has(k)) used.add(k);
          }
          for (const k of [...keys, ...probes, ...junk]) expect(catalog.isUsed(k)).toBe(used.has(k));
          // gc's view: every listed object once, in key order, with its size and its mark.
          const inOrder = [...oracle.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
          expect([...catalog.entries()]).toEqual(
            inOrder.map((key) => ({ key, bytes: oracle.get(key), used: used.has(key) })),
          );
        },
      ),
      { numRuns: 200 },
    );
  });

  it("holds objects in more than one chunk", () => {
    const catalog = new ObjectCatalog();
    const keys = Array.from({ length: 70_000 }, (_, i) => storeObjectKey(name(i), i % 3 === 0)).sort();
    for (const [i, k] of keys.entries()) catalog.add(k, i);
    catalog.seal();
    for (const i of [0, 1, 65_535, 65_536, 69_999]) expect(catalog.bytesOf(keys[i]!)).toBe(i);
    expect(catalog.bytesOf(storeObjectKey(name(70_001), false))).toBeUndefined();
  });
});

// Lookups find a record through a directory of buckets by the name's leading bits (object-catalog.ts,
// bucketStarts): names that share leading bytes, sit at a bucket's edge (all zeros, all ones, a
// power of two) or differ only in their last byte or the .age bit must still be told apart.
describe("ObjectCatalog lookups", () => {
  const hex8 = (n: number) => (n >>> 0).toString(16).padStart(8, "0");
  const edges = [0, 1, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, 0x12345678];
  const head = fc.oneof(fc.constantFrom(...edges), fc.nat({ max: 0xffffffff }));
  const rest = fc.constantFrom("0".repeat(56), "f".repeat(56), `${"0".repeat(55)}1`, `${"a".repeat(54)}5b`);
  const generated = fc
    .tuple(
      head,
      fc.oneof(
        rest,
        fc.uint8Array({ minLength: 28, maxLength: 28 }).map((b) => Buffer.from(b).toString("hex")),
      ),
      fc.boolean(),
    )
    .map(([h, r, age]) => storeObjectKey(hex8(h) + r, age));
  const twin = (k: string) => (k.endsWith(".age") ? k.slice(0, -4) : `${k}.age`);

  /** Checks has, bytesOf and use against a Map of `keys` (listed in this order), for the keys and `probes`. */
  function agree(keys: string[], probes: string[]): void {
    const oracle = new Map(keys.map((k, i) => [k, i + 1]));
    const catalog = new ObjectCatalog();
    for (const k of keys) catalog.add(k, oracle.get(k)!);
    catalog.seal();
    const used = new Set<string>();
    // Disagreements collected, not one expect a lookup: 300,000 expects take a minute.
    const wrong: string[] = [];
    for (const k of [...probes, ...keys, ...keys.map(twin)]) {
      const got = [catalog.has(k), catalog.bytesOf(k), catalog.use(k)];
      const want = [oracle.has(k), oracle.get(k), oracle.has(k) ? !used.has(k) : undefined];
      if (got.some((g, i) => g !== want[i])) wrong.push(`${k}: ${String(got)} instead of ${String(want)}`);
      used.add(k);
    }
    expect(wrong.slice(0, 5)).toEqual([]);
  }

  it("agree with a Map for any names, sorted or not", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(generated, { maxLength: 3000, size: "max" }),
        fc.array(generated, { maxLength: 200 }),
        fc.constantFrom("sorted", "reversed", "shuffled"),
        fc.nat(),
        (keys, probes, how, seed) => {
          keys.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
          if (how === "reversed") keys.reverse();
          if (how === "shuffled") {
            const rank = new Map(keys.map((k) => [k, hash("sha256", `${seed} ${k}`)]));
            keys.sort((a, b) => (rank.get(a)! < rank.get(b)! ? -1 : 1));
          }
          agree(keys, probes);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("agree with a Map over more than one 65,536-record chunk, sorted or not", () => {
    const keys = Array.from({ length: 70_000 }, (_, i) => storeObjectKey(name(i), i % 5 === 0)).sort();
    const absent = Array.from({ length: 5_000 }, (_, i) => storeObjectKey(name(200_000 + i), false));
    agree(keys, absent);
    // Out of key order: by the seed (the hashes' order is unrelated to the keys').
    agree(
      keys
        .map((k, i) => [k, name(i)] as const)
        .sort((a, b) => (a[1] < b[1] ? -1 : 1))
        .map(([k]) => k),
      absent,
    );
  });
});

describe("writeRecord", () => {
  it("takes exactly the keys STORE_OBJECT_KEY_RE matches, as their name's bytes and the .age bit", () => {
    const hex = "0123456789abcdef";
    const exact = fc
      .tuple(fc.array(fc.constantFrom(...hex), { minLength: 64, maxLength: 64 }), fc.boolean())
      .map(([d, age]) => storeObjectKey(d.join(""), age));
    // Near misses: one character of a content key replaced (another case, a non-hex digit, "/",
    // non-ASCII: also in the folder, which must repeat the name's first two digits), inserted or
    // removed, or another suffix.
    const nearMiss = fc
      .tuple(
        exact,
        fc.nat(),
        fc.constantFrom("A", "F", "g", "0", "f", "/", ".", "é", "\u{1f4c4}", "\n"),
        fc.nat({ max: 3 }),
      )
      .map(([k, at, c, how]) => {
        const p = at % (k.length + 1);
        if (how === 0) return k.slice(0, p) + c + k.slice(p + 1);
        if (how === 1) return k.slice(0, p) + c + k.slice(p);
        if (how === 2) return k.slice(0, p) + k.slice(p + 1);
        return k.replace(/(\.age)?$/, [".ag", ".agex", ".AGE", "/", ".age.age"][at % 5]!);
      });
    fc.assert(
      fc.property(fc.oneof(nearMiss, exact), fc.nat({ max: 64 }), (k, offset) => {
        const into = Buffer.alloc(33 + 64, 0xee);
        const m = STORE_OBJECT_KEY_RE.exec(k);
        expect(writeRecord(k, into, offset), k).toBe(m !== null);
        if (m) {
          expect(into.subarray(offset, offset + 32).toString("hex")).toBe(m.groups!.name);
          expect(into[offset + 32]).toBe(m.groups!.age ? 1 : 0);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe("ThisRunObjects", () => {
  it("remembers every object added, through its growth, and not others", () => {
    const run = new ThisRunObjects();
    const added = Array.from({ length: 20_000 }, (_, i) => storeObjectKey(name(i), i % 2 === 0));
    for (const k of added) run.add(k);
    for (const k of added) expect(run.mayHave(k)).toBe(true);
    // 8 random bytes each: a collision among these is a 1-in-10^10 event.
    for (let i = 20_000; i < 30_000; i += 1) expect(run.mayHave(storeObjectKey(name(i), false))).toBe(false);
    expect(run.mayHave("daily/x/manifest.json")).toBe(false);
  });
});
