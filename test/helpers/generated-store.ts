// A content store written straight to a file:// destination, without a backup: tiny content
// objects and store-format sets that are only what gc reads (a manifest naming the set's object
// list with its size and sha256, and the list). For gc at scale (bench/gc-memory.ts: a million
// objects in a minute, where backing up a million files takes far longer) and for property tests
// over many generated sets. The sets have no index: nothing but gc may read them.
import { createHash } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { newBackupId } from "../../runner/src/catalog/backup-id.js";
import { storeObjectKey, type Tier } from "../../runner/src/contract.js";

/** The key of generated object `i` (its name: sha256 of the number, so keys spread like keyed hashes). */
export function generatedKey(i: number, encrypted = false): string {
  return storeObjectKey(createHash("sha256").update(`object ${i}`).digest("hex"), encrypted);
}

/** Writes each key as a one-byte-per-digit object (`bytes(key)` decides its size; default 8). */
export async function writeObjects(
  dest: string,
  keys: Iterable<string>,
  bytes: (key: string) => number = () => 8,
): Promise<void> {
  const folders = new Set<string>();
  let batch: Promise<void>[] = [];
  for (const key of keys) {
    const file = path.join(dest, key);
    const folder = path.dirname(file);
    if (!folders.has(folder)) {
      await mkdir(folder, { recursive: true });
      folders.add(folder);
    }
    batch.push(writeFile(file, Buffer.alloc(bytes(key), 0x61)));
    if (batch.length === 64) {
      await Promise.all(batch);
      batch = [];
    }
  }
  await Promise.all(batch);
}

export interface GeneratedSet {
  tier: Tier;
  backupId: string;
  /** Referenced keys, any order, duplicates allowed (the list gets each once, in byte order). */
  keys: Iterable<string>;
  /** false: a set without a manifest (a backup running, or dead, after its list). */
  complete: boolean;
}

/** A backup id `n` seconds after a fixed time (distinct, sorting in `n` order). */
export function generatedBackupId(n: number): string {
  return newBackupId(new Date(Date.UTC(2026, 0, 1) + n * 1000), () => "9e9e");
}

/** Writes the set's object list and, when complete, a manifest that covers it. */
export async function writeSet(dest: string, set: GeneratedSet): Promise<void> {
  const folder = path.join(dest, set.tier, set.backupId);
  await mkdir(folder, { recursive: true });
  const keys = [...new Set(set.keys)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const lines = [`edms-media-objects 1 ${set.backupId}`, ...keys];
  // Joined a chunk at a time: a million keys are one 80 MB file, not one string of them.
  const parts: Buffer[] = [];
  for (let i = 0; i < lines.length; i += 65536) parts.push(Buffer.from(`${lines.slice(i, i + 65536).join("\n")}\n`));
  const list = Buffer.concat(parts);
  await writeFile(path.join(folder, "media-objects.txt"), list);
  if (!set.complete) return;
  const at = new Date().toISOString();
  const manifest = {
    formatVersion: 4,
    backupId: set.backupId,
    tier: set.tier,
    trigger: "manual",
    startedAt: at,
    finishedAt: at,
    runnerVersion: "0.1.0",
    appName: "edms",
    database: null,
    media: {
      key: "media-index.jsonl.zst",
      bytes: 0,
      sha256: createHash("sha256").digest("hex"),
      compression: "zstd",
      files: keys.length,
      sourceBytes: 0,
      format: "store",
      store: { objects: keys.length, uploadedObjects: 0, uploadedBytes: 0, reusedObjects: keys.length },
      objectList: {
        key: "media-objects.txt",
        bytes: list.length,
        sha256: createHash("sha256").update(list).digest("hex"),
      },
    },
  };
  await writeFile(path.join(folder, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
}
