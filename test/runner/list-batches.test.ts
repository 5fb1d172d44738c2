// A store-format backup lists the whole content store twice, a batch at a time (listBatches: a
// folder's files, an S3 page). The batches must hold exactly what list() yields, in key order, for
// any names; a file removed between readdir and stat is not listed, and a listing that fails
// half-way fails (never a short listing that would look like objects gone or never stored).
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import fc from "fast-check";
import { describe, expect, inject, it } from "vitest";
import { ObjectCatalog } from "../../runner/src/media-store/object-catalog.js";
import { FileStore } from "../../runner/src/store/file-store.js";
import type { ObjectStore, StoredObject } from "../../runner/src/store/object-store.js";
import { S3Store } from "../../runner/src/store/s3-store.js";
import { createTestBucket, testS3Client } from "../helpers/s3-bucket.js";

const s3Endpoint = inject("s3Endpoint");
const byKey = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const seen = (o: StoredObject) => ({ key: o.key, bytes: o.bytes });

async function listed(store: ObjectStore, prefix: string) {
  const out: Array<{ key: string; bytes: number }> = [];
  for await (const o of store.list(prefix)) out.push(seen(o));
  return out;
}

async function batches(store: ObjectStore, prefix: string) {
  const out: Array<Array<{ key: string; bytes: number }>> = [];
  for await (const batch of store.listBatches(prefix)) out.push(batch.map(seen));
  return out;
}

async function withFolder(run: (root: string) => Promise<void>): Promise<void> {
  const root = await mkdtemp(path.join(tmpdir(), "edms-batches-"));
  try {
    await run(root);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

describe("FileStore.listBatches", () => {
  it("yields exactly what list() yields, in key order, in non-empty batches, for odd names and nested folders", async () => {
    // Characters around "/" (0x2f) in code-unit order, spaces, %, non-ASCII and astral ones.
    const segment = fc
      .array(fc.constantFrom("a", "b", "0", "-", ".", "_", " ", "%", "é", "ß", "\u4e2d", "\u{1f4c4}", "A", "~"), {
        minLength: 1,
        maxLength: 4,
      })
      .map((c) => c.join(""))
      .filter((s) => s !== "." && s !== "..");
    const keys = fc.uniqueArray(
      fc.array(segment, { minLength: 1, maxLength: 4 }).map((p) => p.join("/")),
      { minLength: 1, maxLength: 40 },
    );
    await fc.assert(
      fc.asyncProperty(keys, fc.nat(), fc.nat({ max: 8 }), async (all, pick, cut) => {
        // A key cannot be both an object and a folder ("a" and "a/b").
        const objects = all.filter((k) => !all.some((o) => o.startsWith(`${k}/`)));
        await withFolder(async (root) => {
          const store = new FileStore(root);
          for (const [i, key] of objects.entries()) await store.putSmall(key, "x".repeat(i));
          const expected = objects.map((key, i) => ({ key, bytes: i })).sort((a, b) => byKey(a.key, b.key));
          const prefix = objects[pick % objects.length]!.slice(0, cut);
          for (const p of ["", prefix]) {
            const got = await batches(store, p);
            expect(got.every((b) => b.length > 0)).toBe(true);
            expect(got.flat()).toEqual(await listed(store, p));
            expect(got.flat()).toEqual(expected.filter((o) => o.key.startsWith(p)));
          }
        });
      }),
      { numRuns: 60 },
    );
  });

  it("does not list a file removed between readdir and its stat, and bounds a folder's batches", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 257, max: 700 }), fc.nat(), async (files, pick) => {
        await withFolder(async (root) => {
          const store = new FileStore(root);
          const keys = Array.from({ length: files }, (_, i) => `store/objects/ab/${String(i).padStart(4, "0")}`);
          await mkdir(path.join(root, "store/objects/ab"), { recursive: true });
          for (const key of keys) await writeFile(path.join(root, key), key);
          // The folder was read before the first batch; files after it are stat'ed only later.
          const listing = store.listBatches("store/objects/")[Symbol.asyncIterator]();
          const first = await listing.next();
          const firstKeys = (first.value as StoredObject[]).map((o) => o.key);
          expect(firstKeys.length).toBeLessThanOrEqual(256);
          const later = keys.slice(firstKeys.length);
          const victim = later[pick % later.length]!;
          await rm(path.join(root, victim));
          const rest: string[] = [];
          for (let next = await listing.next(); !next.done; next = await listing.next())
            rest.push(...next.value.map((o) => o.key));
          expect([...firstKeys, ...rest]).toEqual(keys.filter((k) => k !== victim));
        });
      }),
      { numRuns: 8 },
    );
  });

  it("a listing that fails half-way rejects, and so does the catalog read from it", async () => {
    await withFolder(async (root) => {
      const store = new FileStore(root);
      const name = (folder: string, i: number) => `store/objects/${folder}/${folder}${String(i).padStart(62, "0")}`;
      for (const folder of ["aa", "bb"]) for (let i = 0; i < 3; i += 1) await store.putSmall(name(folder, i), "x");
      const listing = store.listBatches("store/objects/")[Symbol.asyncIterator]();
      expect(((await listing.next()).value as StoredObject[]).map((o) => o.key)).toEqual(
        [0, 1, 2].map((i) => name("aa", i)),
      );
      // The next folder, read after the first batch, is no folder any more: its readdir fails.
      await rm(path.join(root, "store/objects/bb"), { recursive: true });
      await writeFile(path.join(root, "store/objects/bb"), "not a folder");
      await expect(listing.next()).rejects.toThrow(/ENOTDIR/);
      // A catalog gives a failed listing's error, never a catalog of what was listed before it.
      await rm(path.join(root, "store/objects"), { recursive: true });
      await writeFile(path.join(root, "store/objects"), "not a folder");
      await expect(ObjectCatalog.fromListing(store)).rejects.toThrow(/ENOTDIR/);
    });
  });
});

describe("S3Store.listBatches", () => {
  it("yields one batch a page, exactly what list() yields, over many pages", async () => {
    const bucket = await createTestBucket(s3Endpoint);
    const names = ["a", "a b", "a%20b", "a-b", "a/b", "a0", "é", "\u4e2d", "z~", "Z", "b/c/d", "b/c.d"];
    const keys = Array.from({ length: 23 }, (_, i) => `store/objects/${names[i % names.length]}-${i}`);
    await Promise.all(keys.map((key, i) => bucket.put(`p/${key}`, "x".repeat(i))));
    await bucket.put("elsewhere/store/objects/x", "not under the prefix");
    const store = new S3Store({ bucket: bucket.name, prefix: "p", pageKeys: 4 }, testS3Client(s3Endpoint));
    const got = await batches(store, "store/objects/");
    expect(got.map((b) => b.length)).toEqual([4, 4, 4, 4, 4, 3]);
    // S3 orders by UTF-8 bytes; these names sort the same by code units.
    const expected = keys.map((key, i) => ({ key, bytes: i })).sort((a, b) => byKey(a.key, b.key));
    expect(got.flat()).toEqual(expected);
    expect(await listed(store, "store/objects/")).toEqual(expected);
    expect((await batches(store, "store/objects/a-")).flat().map((o) => o.key)).toEqual(
      expected.map((o) => o.key).filter((k) => k.startsWith("store/objects/a-")),
    );
  });
});
