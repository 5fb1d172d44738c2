// The store walk in a worker thread (runner/src/archive/worker-walk.ts) against the main-thread
// walk it replaces for the store format (directory-walk.ts walkTreeBatches): the same entries in
// the same order (type, name and path bytes, link target, every stat field the store's backup
// reads) on wild trees, the same errors, and no thread left behind when the consumer stops early,
// when the walk fails, or when nobody finishes it.
import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readdir, rename, rm, symlink, unlink, utimes, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterEach, describe, expect, it, vi } from "vitest";
import { walkTreeBatches, type WalkedEntry } from "../../runner/src/archive/directory-walk.js";
import { STAT_FIELDS } from "../../runner/src/archive/walk-program.js";
import { walkTreeInWorker, type WalkTuning } from "../../runner/src/archive/worker-walk.js";
import { excludedFromArchive } from "../../runner/src/contract.js";
import { run } from "../helpers/exec.js";
import { materializeTree, mediaTreeArb, nameArb } from "../helpers/media-trees.js";
import { failureOf } from "../helpers/walk-failure.js";

const dirs: string[] = [];
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});
async function tempDir(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), "edms-worker-walk-"));
  dirs.push(d);
  return d;
}

/** Everything a consumer of the walk reads of an entry, comparable. */
function describeEntry(e: WalkedEntry) {
  return {
    type: e.type,
    name: e.name.toString("hex"),
    path: e.path.toString("hex"),
    linkTarget: e.linkTarget?.toString("hex"),
    stats: Object.fromEntries(STAT_FIELDS.map((f) => [f, e.stats[f]])),
  };
}

async function entriesOf(walk: AsyncGenerator<WalkedEntry[]>) {
  const out: Array<ReturnType<typeof describeEntry>> = [];
  for await (const batch of walk) for (const e of batch) out.push(describeEntry(e));
  return out;
}

/** This process's threads (Linux): a worker thread is one more. */
const threads = () => readdirSync("/proc/self/task").length;

const WALK_BOTH = path.resolve("test/helpers/walk-both.ts");
const TINY: WalkTuning = { chunkEntries: 2, chunkBytes: 1000, credit: 1 };

async function manyFiles(dir: string, folder: string, count: number): Promise<void> {
  await mkdir(path.join(dir, folder), { recursive: true });
  for (let i = 0; i < count; i += 1) await writeFile(path.join(dir, folder, `f${String(i).padStart(4, "0")}`), `${i}`);
}

describe("the store walk in a worker thread", () => {
  it("yields what the main-thread walk yields, in the same order, on wild trees", async () => {
    const skips = {
      none: undefined,
      runner: excludedFromArchive,
      odd: (name: Buffer) => name[0]! % 2 === 1,
    };
    await fc.assert(
      fc.asyncProperty(
        mediaTreeArb,
        fc.record({
          fifos: fc.integer({ min: 0, max: 2 }),
          socket: fc.boolean(),
          depth: fc.integer({ min: 0, max: 40 }),
          farFuture: fc.boolean(),
          deepName: nameArb,
          skip: fc.constantFrom("none", "runner", "odd") as fc.Arbitrary<keyof typeof skips>,
          tuning: fc.option(
            fc.record({
              chunkEntries: fc.integer({ min: 1, max: 5 }),
              chunkBytes: fc.integer({ min: 1, max: 400 }),
              credit: fc.integer({ min: 1, max: 3 }),
            }),
          ),
        }),
        async (tree, extra) => {
          const dir = await tempDir();
          await materializeTree(dir, tree);
          // What the generated trees do not have: FIFOs, a socket, deep nesting with a name of
          // any bytes at the bottom, a time past 2262 (beyond int64 nanoseconds), one of the
          // runner's own top-level copies.
          for (let i = 0; i < extra.fifos; i += 1) execFileSync("mkfifo", [path.join(dir, `\x01fifo\n${i}`)]);
          if (extra.socket) {
            const server = createServer();
            servers.push(server);
            await new Promise<void>((resolve) => server.listen(path.join(dir, "\x01sock"), resolve));
          }
          let deep = Buffer.from(dir);
          for (let i = 0; i < extra.depth; i += 1) {
            deep = Buffer.concat([deep, Buffer.from(i ? `/${i % 10}` : "/\x01deep")]);
            await mkdir(deep);
          }
          if (extra.depth) await writeFile(Buffer.concat([deep, Buffer.from("/"), extra.deepName]), "bottom");
          if (extra.farFuture) {
            await writeFile(path.join(dir, "\x01far future"), "x");
            await utimes(path.join(dir, "\x01far future"), 10_413_792_000, 10_413_792_000); // 2300
          }
          await writeFile(path.join(dir, ".edms-previous-media"), "the runner's own");
          const skipTopLevel = skips[extra.skip];
          const before = await entriesOf(walkTreeBatches(dir, { skipTopLevel }));
          const after = await entriesOf(walkTreeInWorker(dir, { skipTopLevel }, extra.tuning ?? undefined));
          expect(after).toEqual(before);
          expect(before.length).toBeGreaterThan(0);
        },
      ),
      { numRuns: 60 },
    );
  }, 300_000);

  it("walks a tree larger than its chunks and its credit with the default cuts", async () => {
    const dir = await tempDir();
    await manyFiles(dir, "a", 3000);
    await manyFiles(dir, "b/c", 700);
    await writeFile(path.join(dir, "z".repeat(200)), "long name");
    const after = await entriesOf(walkTreeInWorker(dir));
    expect(after).toEqual(await entriesOf(walkTreeBatches(dir)));
    expect(after.length).toBe(3000 + 700 + 4);
    // A time past 2262 is exact (a BigInt64Array alone would wrap it).
    const far = path.join(dir, "a", "f0000");
    await utimes(far, 10_413_792_000, 10_413_792_000);
    const walk = walkTreeInWorker(dir);
    const [, first] = (await walk.next()).value as WalkedEntry[];
    await walk.return(undefined);
    expect(first!.name.toString()).toBe("a/f0000");
    expect(first!.stats.mtimeNs).toBe(10_413_792_000_000_000_000n);
  });

  it("ends its thread when the consumer stops early, throws, or the walk fails", async () => {
    const dir = await tempDir();
    await manyFiles(dir, "a", 300);
    // The thread pool's threads exist before counting.
    await readdir(dir);
    const idle = threads();
    await entriesOf(walkTreeInWorker(dir));
    await vi.waitFor(() => expect(threads()).toBe(idle), { timeout: 10_000 });

    for await (const batch of walkTreeInWorker(dir, {}, TINY)) {
      expect(batch.length).toBeGreaterThan(0);
      expect(threads()).toBe(idle + 1);
      break;
    }
    expect(threads()).toBe(idle);

    const thrown = new Error("the consumer failed");
    await expect(
      (async () => {
        for await (const batch of walkTreeInWorker(dir, {}, TINY)) {
          void batch;
          throw thrown;
        }
      })(),
    ).rejects.toBe(thrown);
    expect(threads()).toBe(idle);

    await expect(failureOf(walkTreeInWorker(path.join(dir, "missing")))).resolves.toMatchObject({ code: "ENOENT" });
    expect(threads()).toBe(idle);

    // A walk that ended does not wait for its thread's teardown; the thread goes all the same.
    await entriesOf(walkTreeInWorker(dir));
    await vi.waitFor(() => expect(threads()).toBe(idle), { timeout: 10_000 });
  });

  it("lets the process exit when its consumer leaves it unfinished", async () => {
    const dir = await tempDir();
    await manyFiles(dir, "a", 300);
    const r = await run(process.execPath, ["--import", "tsx", WALK_BOTH, "abandon", dir], { timeoutMs: 60_000 });
    expect(r).toMatchObject({ code: 0, signal: null, stdout: "left" });
  }, 90_000);

  it("fails as the main-thread walk does when an entry vanishes between the listing and its lstat", async () => {
    const results = [];
    for (const walk of [
      (dir: string) => walkTreeBatches(dir),
      (dir: string) => walkTreeInWorker(dir, {}, { chunkEntries: 64, chunkBytes: 65536, credit: 1 }),
    ]) {
      const dir = await tempDir();
      await manyFiles(dir, "a", 300);
      const entries = walk(dir);
      // The folder is listed and its first entries lstat'ed; the last is not reached yet.
      for (let seen = 0; seen < 60;) seen += ((await entries.next()).value as WalkedEntry[]).length;
      await unlink(path.join(dir, "a", "f0299"));
      const failure = await failureOf(entries);
      results.push({
        ...failure,
        path: path.relative(dir, failure.path!),
        message: failure.message!.replace(dir, "DIR"),
      });
    }
    expect(results[1]).toEqual(results[0]);
    expect(results[0]).toMatchObject({ isError: true, code: "ENOENT", syscall: "lstat", path: "a/f0299" });
  });

  it("walks a folder replaced by a symlink before it is reached as the main-thread walk does", async () => {
    const results = [];
    for (const walk of [walkTreeBatches, (dir: string) => walkTreeInWorker(dir, {}, TINY)]) {
      const dir = await tempDir();
      // "b" comes after 200 names: beyond what either walk lstats ahead of its consumer.
      for (let i = 0; i < 200; i += 1) await writeFile(path.join(dir, `a${String(i).padStart(4, "0")}`), "x");
      await manyFiles(dir, "b", 3);
      const entries = walk(dir);
      const seen = (await entries.next()).value as WalkedEntry[];
      await rename(path.join(dir, "b"), path.join(dir, "moved"));
      await symlink("moved", path.join(dir, "b"));
      const rest = await entriesOf(entries);
      results.push([...seen.map((e) => e.name.toString()), ...rest.map((e) => `${e.type} ${e.name} ${e.linkTarget}`)]);
    }
    // Batches are cut differently: compared from "b" on, a link now, not entered.
    const fromB = (r: string[]) => r.slice(r.findIndex((n) => n.startsWith("l ")));
    expect(fromB(results[1]!)).toEqual(fromB(results[0]!));
    expect(fromB(results[0]!)).toEqual([
      `l ${Buffer.from("b").toString("hex")} ${Buffer.from("moved").toString("hex")}`,
    ]);
  });

  it("fails as the main-thread walk does on a folder it may not read, a missing one, a file", async () => {
    const dir = await tempDir();
    await chmod(dir, 0o755);
    await manyFiles(dir, "open", 5);
    await manyFiles(dir, "shut", 5);
    await writeFile(path.join(dir, "plain"), "x");
    // Root reads every folder: the walks run as the pod's user in a process of their own.
    await chmod(path.join(dir, "shut"), 0o000);
    const as = process.getuid?.() === 0 ? { uid: 10001, gid: 10001 } : undefined;
    const results = [];
    for (const target of [dir, path.join(dir, "missing"), path.join(dir, "plain")]) {
      const r = await run(process.execPath, ["--import", "tsx", WALK_BOTH, "errors", target], {
        as,
        timeoutMs: 60_000,
      });
      expect(r.code, r.stderr).toBe(0);
      const { old, worker } = JSON.parse(r.stdout) as { old: unknown; worker: unknown };
      expect(worker).toEqual(old);
      results.push(old);
    }
    expect(results).toEqual([
      expect.objectContaining({ code: "EACCES", syscall: "scandir", path: path.join(dir, "shut") }),
      expect.objectContaining({ code: "ENOENT", syscall: "scandir" }),
      expect.objectContaining({ code: "ENOTDIR", syscall: "scandir" }),
    ]);
  }, 120_000);
});
