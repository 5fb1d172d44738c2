// npm run bench:store-parts -- MEDIA_DIR [STORE_DIR]
//
// The CPU of the store format's second backup, piece by piece, each run alone on an existing tree
// (e.g. .bench/media-store/media after `npm run bench:store -- --files 50000 --file-kib 8 --skip-s3`)
// and, given, a file:// store it was backed up to: the preflight walk, the store walk, the store
// listing into the catalog, the check before the manifest (each object asked, as on a folder; the
// listing merged, as on S3), the catalog's lookups, the keyed names, the segment cuts, the stat
// cache's lines and lookups, the index lines.
// A whole second backup's CPU seconds move ±15% with other work on the machine (BENCHMARKS.md,
// issue 22); one piece measured alone in a loop moves much less, so this is how a change to one
// piece is judged. Prints the user + system CPU ms of this process (libuv's pool threads and
// worker threads included) for 5 runs of each, sorted; for the two walks also the main thread's
// CPU (its schedstat) and the wall, since the store walk runs in a worker thread (worker-walk.ts).
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { Readable } from "node:stream";
import { inspectDirectory, walkTreeBatches, type WalkedEntry } from "../runner/src/archive/directory-walk.js";
import { walkTreeInWorker } from "../runner/src/archive/worker-walk.js";
import { entryLine } from "../runner/src/media-store/media-index.js";
import { confirmReferenced } from "../runner/src/media-store/gc-lease.js";
import { ObjectCatalog } from "../runner/src/media-store/object-catalog.js";
import { StoreKey } from "../runner/src/media-store/object-names.js";
import { SEGMENT_PURPOSE, SegmentCutter } from "../runner/src/media-store/segment-list.js";
import { recordLine, StatCacheCursor, type StatRecord } from "../runner/src/media-store/stat-cache.js";
import { FileStore } from "../runner/src/store/file-store.js";
import type { Logger } from "../runner/src/output/logger.js";

const [media, storeDir] = process.argv.slice(2);
if (!media) throw new Error("give the media folder (and optionally a file:// store's folder)");

/** The main thread's CPU ns so far (Linux: the first field of its schedstat). */
const mainThreadNs = () => Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, "utf8").split(" ")[0]);

/** `threads`: also the main thread's CPU and the wall (a piece that works in other threads). */
async function cpu(label: string, piece: () => unknown, threads = false): Promise<void> {
  const ms: number[][] = [[], [], []];
  for (let run = 0; run < 5; run += 1) {
    const [before, main, wall] = [process.cpuUsage(), mainThreadNs(), performance.now()];
    await piece();
    const used = process.cpuUsage(before);
    ms[0]!.push((used.user + used.system) / 1000);
    ms[1]!.push((mainThreadNs() - main) / 1e6);
    ms[2]!.push(performance.now() - wall);
  }
  const row = (name: string, m: number[]) =>
    `${name.padEnd(40)} ${m
      .sort((a, b) => a - b)
      .map((v) => v.toFixed(0).padStart(5))
      .join(" ")} ms\n`;
  process.stdout.write(row(label, ms[0]!));
  if (threads) process.stdout.write(row("  its main thread's CPU", ms[1]!) + row("  its wall", ms[2]!));
}

async function main(): Promise<void> {
  const entries: WalkedEntry[] = [];
  for await (const batch of walkTreeInWorker(media!)) entries.push(...batch);
  const files = entries.filter((e) => e.type === "-");
  process.stdout.write(`${entries.length} entries, ${files.length} files\n`);
  await cpu("preflight walk (worker thread, judged)", () => inspectDirectory(media!, { inWorker: true }));
  await cpu(
    "main-thread walk (readdir, BigInt lstat)",
    async () => {
      for await (const batch of walkTreeBatches(media!)) void batch;
    },
    true,
  );
  // What the store walk's consumer reads of each entry (store-writer.ts, stat-cache.ts statMatches).
  await cpu(
    "store walk (a worker thread)",
    async () => {
      for await (const batch of walkTreeInWorker(media!))
        for (const { stats: s } of batch) void [s.mode, s.uid, s.gid, s.size, s.mtimeNs, s.ctimeNs, s.ino];
    },
    true,
  );
  if (storeDir) {
    const store = new FileStore(storeDir);
    await cpu("store listing into the catalog", () => ObjectCatalog.fromListing(store));
    // The check before the manifest: every listed object referenced (a set references most of them).
    const catalog = await ObjectCatalog.fromListing(store);
    const referenced = [...catalog.entries()].map((o): [string, number] => [o.key, o.bytes]);
    await cpu("check before manifest (file: asked)", () => confirmReferenced(store, () => referenced));
    const listed = Object.assign(Object.create(store) as FileStore, { allStored: undefined });
    await cpu("check before manifest (listed, merged)", () => confirmReferenced(listed, () => referenced));
    // As the walk asks (listed? its size?) about 50,000 listed objects, in an order unrelated to
    // the keys' (a file's keyed name is an HMAC).
    const asked = Array.from({ length: 50_000 }, (_, i) => referenced[(i * 7919) % referenced.length]![0]);
    const lookups = () => {
      for (const k of asked) if (catalog.has(k)) catalog.bytesOf(k);
    };
    // Not measured: the first pass, which flattens the keys' strings and compiles the loop.
    lookups();
    await cpu("catalog lookups (50,000 has+bytesOf)", lookups);
  }
  const key = new StoreKey(Buffer.from("bench-store-key-0123456789abcdef0123456789"));
  const sha = files.map((_, i) => createHash("sha256").update(`${i}`).digest("hex"));
  await cpu("keyed names (HMAC a file)", () => sha.forEach((s) => key.keyOf(s, {})));
  await cpu("segment cuts (HMAC an entry)", () => {
    const cutter = new SegmentCutter(key.derive(SEGMENT_PURPOSE));
    for (const e of entries) cutter.endsAfter(e.name);
  });
  const records: StatRecord[] = files.map((e, i) => ({
    name: e.name,
    size: e.stats.size,
    mtimeNs: e.stats.mtimeNs,
    ctimeNs: e.stats.ctimeNs,
    ino: e.stats.ino,
    sha256: sha[i]!,
  }));
  await cpu("stat cache lines", () => records.forEach(recordLine));
  const text = Buffer.from(records.map(recordLine).join(""), "latin1");
  const log = { warn: () => undefined } as unknown as Logger;
  await cpu("stat cache parsed and looked up", async () => {
    const pieces: Buffer[] = [];
    for (let at = 0; at < text.length; at += 65536) pieces.push(text.subarray(at, at + 65536));
    const cursor = new StatCacheCursor(Readable.from(pieces), log);
    for (const r of records) await cursor.lookup(r.name);
  });
  const objects = sha.map((s) => key.keyOf(s, {}));
  await cpu("index lines", () =>
    files.forEach((e, i) =>
      entryLine({
        name: e.name,
        type: "file",
        mode: 0o644,
        uid: 0,
        gid: 0,
        mtimeNs: e.stats.mtimeNs,
        size: Number(e.stats.size),
        sha256: sha[i],
        object: objects[i],
        objectBytes: Number(e.stats.size),
      }),
    ),
  );
}

void main();
