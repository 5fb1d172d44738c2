// Resolving "latest" and status read the newest sets' manifests only, and skip incomplete ones.
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { newestCompleteSets, resolveBackup } from "../../runner/src/catalog/catalog.js";
import { storeObjectKey } from "../../runner/src/contract.js";
import { FileStore } from "../../runner/src/store/file-store.js";
import { inBatches, type ObjectStore } from "../../runner/src/store/object-store.js";
import { craftSet } from "../helpers/craft-set.js";

/** A store that counts reads and listed objects, to show how much of the destination a lookup touches. */
function counting(store: FileStore): { store: ObjectStore; reads: () => number; listed: () => string[] } {
  let reads = 0;
  const listed: string[] = [];
  const wrapped = Object.create(store) as FileStore;
  wrapped.get = async (key: string) => {
    reads++;
    return store.get(key);
  };
  wrapped.list = async function* (prefix: string) {
    for await (const o of store.list(prefix)) {
      listed.push(o.key);
      yield o;
    }
  };
  wrapped.listBatches = (prefix: string) => inBatches(wrapped.list(prefix));
  return { store: wrapped, reads: () => reads, listed: () => listed };
}

async function history(): Promise<string> {
  const root = await mkdtemp(path.join(tmpdir(), "edms-catalog-"));
  const media = { archive: Buffer.from("x"), files: 1, sourceBytes: 1 };
  for (let day = 1; day <= 20; day++) {
    await craftSet(root, "daily", `202601${String(day).padStart(2, "0")}T020000Z-aaaa`, { media });
  }
  await craftSet(root, "weekly", "20260104T030000Z-bbbb", { media });
  // Newer than every complete daily: a run still going, and one whose manifest is damaged.
  await mkdir(path.join(root, "daily", "20260122T020000Z-cccc"), { recursive: true });
  await writeFile(path.join(root, "daily", "20260122T020000Z-cccc", "storage.tar.zst"), "partial");
  await mkdir(path.join(root, "daily", "20260121T020000Z-dddd"), { recursive: true });
  await writeFile(path.join(root, "daily", "20260121T020000Z-dddd", "manifest.json"), "{ not json");
  return root;
}

describe("catalog lookups", () => {
  it("finds the newest complete set per tier with a few reads, skipping incomplete and damaged sets", async () => {
    const { store, reads } = counting(new FileStore(await history()));
    const newest = await newestCompleteSets(store);
    expect(newest.map((s) => `${s.tier}/${s.backupId}`)).toEqual([
      "daily/20260120T020000Z-aaaa",
      "weekly/20260104T030000Z-bbbb",
    ]);
    // The damaged manifest, the newest complete daily and the weekly: not one read per set.
    expect(reads()).toBe(3);
  });

  it("finds latest and a set by id without listing the media store's content objects", async () => {
    const root = await history();
    for (let i = 0; i < 300; i++) {
      const name = createHash("sha256").update(`object ${i}`).digest("hex");
      await mkdir(path.join(root, "store", "objects", name.slice(0, 2)), { recursive: true });
      await writeFile(path.join(root, storeObjectKey(name, false)), "x");
    }
    const { store, listed } = counting(new FileStore(root));
    expect((await resolveBackup(store, "latest")).backupId).toBe("20260120T020000Z-aaaa");
    expect((await resolveBackup(store, "20260105T020000Z-aaaa")).tier).toBe("daily");
    expect(listed().filter((k) => k.startsWith("store/"))).toEqual([]);
    expect(listed().length).toBeGreaterThan(20);
  });

  it("resolves latest across tiers, per tier, and by id", async () => {
    const root = await history();
    const store = new FileStore(root);
    expect((await resolveBackup(store, "latest")).backupId).toBe("20260120T020000Z-aaaa");
    expect((await resolveBackup(store, "latest", "weekly")).backupId).toBe("20260104T030000Z-bbbb");
    expect((await resolveBackup(store, "20260105T020000Z-aaaa")).tier).toBe("daily");
    await expect(resolveBackup(store, "20260122T020000Z-cccc")).rejects.toThrow(/is incomplete \(no manifest/);
    await expect(resolveBackup(store, "20260121T020000Z-dddd")).rejects.toThrow(
      /is incomplete \(manifest .* is not valid JSON/,
    );
    await expect(resolveBackup(store, "latest", "monthly")).rejects.toThrow(/no complete backup of tier monthly/);
  });
});
