// FileStore.list streams a folder tree in key order without sorting it whole (a store of a million
// content objects is listed by every store-format backup): the order must still be exactly the
// order of the sorted keys, including names that sort around "/" ("a-c" before "a/b", "a0" after).
import { mkdir, mkdtemp, readdir, rename, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Readable } from "node:stream";
import { storeObjectKey } from "../../runner/src/contract.js";
import { ObjectCatalog } from "../../runner/src/media-store/object-catalog.js";
import { FileStore } from "../../runner/src/store/file-store.js";

const byKey = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

async function listed(store: FileStore, prefix: string) {
  const out: Array<{ key: string; bytes: number }> = [];
  for await (const o of store.list(prefix)) out.push({ key: o.key, bytes: o.bytes });
  return out;
}

describe("FileStore.list", () => {
  it("lists every object under any prefix in key order, with its size", async () => {
    // Segments around "/" (0x2f) in the code-unit order: "-" and "." sort before it, "0" and "_" after.
    const segment = fc.stringMatching(/^[a-c0-1][a-c0-1._-]{0,3}$/);
    const keys = fc.uniqueArray(
      fc.array(segment, { minLength: 1, maxLength: 3 }).map((p) => p.join("/")),
      {
        minLength: 1,
        maxLength: 25,
      },
    );
    await fc.assert(
      fc.asyncProperty(keys, fc.nat(), fc.nat({ max: 6 }), async (all, pick, cut) => {
        // A key cannot be both an object and a folder ("a" and "a/b").
        const objects = all.filter((k) => !all.some((o) => o.startsWith(`${k}/`)));
        const root = await mkdtemp(path.join(tmpdir(), "edms-list-"));
        try {
          const store = new FileStore(root);
          for (const [i, key] of objects.entries()) await store.putSmall(key, "x".repeat(i));
          const expected = objects.map((key, i) => ({ key, bytes: i })).sort((a, b) => byKey(a.key, b.key));
          expect(await listed(store, "")).toEqual(expected);
          const prefix = objects[pick % objects.length]!.slice(0, cut);
          expect(await listed(store, prefix)).toEqual(expected.filter((o) => o.key.startsWith(prefix)));
        } finally {
          await rm(root, { recursive: true, force: true });
        }
      }),
      { numRuns: 60 },
    );
  });

  it("allStored answers for any key as head() does (a key that escapes is refused by both)", async () => {
    const segment = fc.constantFrom("a", "b", ".", "..", "...", ".a", "", "a.");
    const key = fc.array(segment, { minLength: 1, maxLength: 4 }).map((p) => p.join("/"));
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(key, { maxLength: 6 }), key, fc.nat({ max: 3 }), async (stored, asked, bytes) => {
        const root = await mkdtemp(path.join(tmpdir(), "edms-list-"));
        try {
          const store = new FileStore(path.join(root, "dest"));
          for (const k of stored) await store.putSmall(k, "x".repeat(bytes)).catch(() => undefined);
          const head = await store.head(asked).then(
            (found) => found?.bytes === bytes,
            (error: Error) => error.message,
          );
          const all = await store.allStored([[asked, bytes]]).catch((error: Error) => error.message);
          expect(all, asked).toEqual(head);
        } finally {
          await rm(root, { recursive: true, force: true });
        }
      }),
      { numRuns: 150 },
    );
  });

  it("allStored answers as the listing does for objects reached through a symlink (a linked file or folder): not stored", async () => {
    // The check before a manifest must hold the facts verify and gc read from a listing: an
    // object the listing does not show would be "missing from the store" in a set just written.
    const root = await mkdtemp(path.join(tmpdir(), "edms-list-"));
    try {
      const dest = path.join(root, "dest");
      const store = new FileStore(dest);
      const [inLinked, linkedFile, plain] = ["cd", "ef", "ab"].map((h) => storeObjectKey(h.repeat(32), false));
      for (const key of [inLinked!, plain!]) await store.putSmall(key, "content");
      // store/objects/cd/ moved away and linked back; ef's object a symlink to a file elsewhere.
      await rename(path.join(dest, "store/objects/cd"), path.join(root, "cd"));
      await symlink(path.join(root, "cd"), path.join(dest, "store/objects/cd"));
      await writeFile(path.join(root, "elsewhere"), "content");
      await mkdir(path.join(dest, "store/objects/ef"));
      await symlink(path.join(root, "elsewhere"), store.objectFile(linkedFile!));
      const listedKeys = (await listed(store, "store/objects/")).map((o) => o.key);
      expect(listedKeys).toEqual([plain]);
      for (const key of [inLinked!, linkedFile!]) expect(await store.allStored([[key, 7]]), key).toBe(false);
      expect(await store.allStored([[plain!, 7]])).toBe(true);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it("lists a folder of more files than are stat'ed at once, and nothing for a missing prefix", async () => {
    const root = await mkdtemp(path.join(tmpdir(), "edms-list-"));
    try {
      const store = new FileStore(root);
      const keys = Array.from({ length: 150 }, (_, i) => `store/objects/ab/${String(i).padStart(3, "0")}`);
      for (const key of keys.slice().reverse()) await store.putSmall(key, key);
      expect((await listed(store, "store/objects/")).map((o) => o.key)).toEqual(keys);
      expect(await listed(store, "daily/")).toEqual([]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it("a body that fails half-way leaves no object and no partial file; a killed run's partial is no content object", async () => {
    const root = await mkdtemp(path.join(tmpdir(), "edms-list-"));
    try {
      const store = new FileStore(root);
      const key = storeObjectKey("ab".repeat(32), false);
      async function* failing() {
        yield Buffer.alloc(300_000, 1);
        throw new Error("disk went away");
      }
      await expect(store.putStream(key, Readable.from(failing()))).rejects.toThrow("disk went away");
      expect(await store.head(key)).toBeUndefined();
      expect(await readdir(path.join(root, "store/objects/ab"))).toEqual([]);
      // What a SIGKILL between write and link leaves: a hidden partial beside where the object goes.
      await mkdir(path.join(root, "store/objects/ab"), { recursive: true });
      await writeFile(path.join(root, "store/objects/ab", `.${"ab".repeat(32)}.partial-0123abcd`), "half");
      const catalog = await ObjectCatalog.fromListing(store);
      expect(catalog.size).toBe(0);
      expect(catalog.has(key)).toBe(false);
      // The same key stored whole afterwards is found, with its size.
      await store.putStream(key, Readable.from([Buffer.alloc(1234)]));
      expect((await ObjectCatalog.fromListing(store)).bytesOf(key)).toBe(1234);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
