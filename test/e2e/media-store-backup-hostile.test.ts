// Red team of the store-format backup's speed-ups (issue 22, second backup vs restic): files in
// flight bounded by MEDIA_STORE_TRANSFERS while lines wait behind them, small objects and chunks
// written in one call (putSmall) through bare descriptors. A run of many changed files that fails
// half-way or is stopped by SIGTERM must leave no manifest and no hidden partial object behind
// (file://: the objects in flight end before the process exits), `list` telling the truth, and a
// next backup that completes, verifies in full and restores byte for byte.
import { randomBytes } from "node:crypto";
import { chmod, lchown, mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { snapshotTree } from "../helpers/media-trees.js";
import { ok, runRunner, startRunner, type RunAs } from "../helpers/runner-cli.js";
import { refusingS3 } from "../helpers/refusing-s3.js";
import { createTestBucket } from "../helpers/s3-bucket.js";
import { storeObjectFiles } from "../helpers/segment-lists.js";
import { fileStoreEnv } from "../helpers/store-env.js";

const s3Endpoint = inject("s3Endpoint");
const KEY = "store-backup-hostile-key-0123456789abcdef";
const POD: RunAs = { uid: 10001, gid: 10001 };
const SMALL = 1500;
const BIG = 3;

let work: string;
let n = 0;
beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), "edms-store-hostile-"));
  await chmod(work, 0o755);
});
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** Writes (or rewrites) every file: SMALL small ones (put in one call) and BIG streamed ones, two names sharing a content. */
async function writeMedia(media: string): Promise<void> {
  await mkdir(path.join(media, "docs"), { recursive: true });
  for (let i = 0; i < SMALL; i += 1) await writeFile(path.join(media, "docs", `doc-${i}.pdf`), randomBytes(2000));
  for (let i = 0; i < BIG; i += 1) await writeFile(path.join(media, `big-${i}.bin`), randomBytes(3 * 1024 * 1024));
  const same = randomBytes(500);
  await writeFile(path.join(media, "same-1"), same);
  await writeFile(path.join(media, "same-2"), same);
}

/** Hidden partial files (`.name.partial-xxxx`) anywhere under the destination. */
async function partialFiles(dest: string): Promise<string[]> {
  const all = await readdir(dest, { recursive: true, withFileTypes: true }).catch(() => []);
  return all.filter((e) => e.name.includes(".partial-")).map((e) => path.join(e.parentPath, e.name));
}

async function manifestCount(dest: string): Promise<number> {
  const all = await readdir(dest, { recursive: true }).catch(() => []);
  return all.filter((f) => f.endsWith("manifest.json")).length;
}

async function setup(owner?: RunAs) {
  n += 1;
  const base = path.join(work, `case-${n}`);
  const media = path.join(base, "media");
  const dest = path.join(base, "dest");
  await mkdir(dest, { recursive: true });
  await writeMedia(media);
  if (owner) execFileSync("chown", ["-R", `${owner.uid}:${owner.gid}`, base]);
  const env = fileStoreEnv(dest, media, KEY, { MEDIA_STORE_TRANSFERS: "16" });
  const run = (args: string[]) => runRunner(args, env, owner);
  return { base, media, dest, env, run };
}

/** The next backup completes, reusing objects; every set verifies in full; the latest restores byte for byte. */
async function recovers(s: Awaited<ReturnType<typeof setup>>, owner?: RunAs): Promise<void> {
  ok("backup after", await s.run(["backup", "--tier", "daily"]));
  const listed = JSON.parse(ok("list", await s.run(["list", "--json"])).stdout) as Array<{
    backupId: string;
    complete: boolean;
  }>;
  expect(listed.filter((l) => l.complete)).toHaveLength(2);
  for (const set of listed) ok(`verify --full ${set.backupId}`, await s.run(["verify", set.backupId, "--full"]));
  const target = path.join(s.base, "restored");
  if (owner) {
    await mkdir(target);
    await lchown(target, owner.uid, owner.gid);
  }
  ok("restore", await s.run(["restore", "latest", "--media-only", "--media-dir", target, "--yes"]));
  expect(await snapshotTree(target)).toEqual(await snapshotTree(s.media));
}

describe("a store backup of many changed files, stopped half-way", () => {
  it("failing half-way (a content folder it may not write) leaves no partial object and no manifest; the next run completes", async () => {
    const s = await setup(POD);
    ok("first backup", await s.run(["backup", "--tier", "daily"]));
    await writeMedia(s.media);
    execFileSync("chown", ["-R", `${POD.uid}:${POD.gid}`, s.media]);
    // Every content folder exists after the first run; one the runner may not write fails the
    // first new object named into it, with other objects in flight.
    const folders = (await readdir(path.join(s.dest, "store", "objects"))).sort();
    const locked = path.join(s.dest, "store", "objects", folders[100]!);
    await chmod(locked, 0o500);
    const failed = await s.run(["backup", "--tier", "daily"]);
    expect(failed.code, failed.stderr).toBe(1);
    expect(failed.stderr).toContain(`EACCES: permission denied, open '${locked}/.`);
    // What to do, not only what failed.
    expect(failed.stderr).toMatch(/give this user \(uid \d+\) write access to \S+ and every folder in it/);
    expect(await partialFiles(s.dest)).toEqual([]);
    expect(await manifestCount(s.dest)).toBe(1);
    const list = ok("list", await s.run(["list"])).stdout;
    expect(list).toContain("1 backup set (1 complete, 0 incomplete)");
    await chmod(locked, 0o700);
    await recovers(s, POD);
  });

  it("SIGTERM half-way: exit 143, no partial object, no manifest; the next run completes", async () => {
    const s = await setup();
    ok("first backup", await s.run(["backup", "--tier", "daily"]));
    const before = (await storeObjectFiles(s.dest)).length;
    await writeMedia(s.media);
    const running = await startRunner(["backup", "--tier", "daily"], s.env);
    for (let i = 0; i < 800 && (await storeObjectFiles(s.dest)).length < before + 200; i += 1)
      await new Promise((r) => setTimeout(r, 10));
    running.child.kill("SIGTERM");
    const stopped = await running.result;
    expect(stopped.code, `the backup ended before the signal: ${stopped.stderr}`).toBe(143);
    expect(await partialFiles(s.dest)).toEqual([]);
    expect(await manifestCount(s.dest)).toBe(1);
    await recovers(s);
  });
});

describe("a store backup of one new content under several names at once", () => {
  it.each([
    ["a copy is refused (already stored) before the first write's answer comes back", false],
    ["several copies' writes all succeed (a store whose conditional writes race)", true],
  ])("counts the object once when %s", async (_, dropConditions) => {
    const bucket = await createTestBucket(s3Endpoint);
    // moto stores the first PutObject at once; its answer comes 400 ms later, while the other
    // names' PutObjects of the same content are refused (412) and looked up meanwhile. moto checks
    // If-None-Match, then writes: under load two of them can both succeed, and without the
    // condition every one does.
    const proxy = await refusingS3(s3Endpoint, [], { delayStoredAnswersMs: 400, dropConditions });
    try {
      n += 1;
      const media = path.join(work, `case-${n}`, "media");
      await mkdir(media, { recursive: true });
      const contents = Array.from({ length: 12 }, () => randomBytes(1500));
      for (const [i, content] of contents.entries())
        for (let copy = 0; copy < 4; copy += 1) await writeFile(path.join(media, `doc-${i}-${copy}`), content);
      const env = {
        ...bucket.env(),
        S3_ENDPOINT: proxy.endpoint,
        BACKUP_DATABASE: "false",
        MEDIA_DIR: media,
        MEDIA_FORMAT: "store",
        MEDIA_STORE_KEY: KEY,
        MEDIA_STORE_TRANSFERS: "8",
      };
      ok("backup", await runRunner(["backup", "--tier", "daily"], env));
      const [manifestKey] = (await bucket.keys()).filter((k) => k.endsWith("manifest.json"));
      const manifest = JSON.parse((await bucket.get(manifestKey!)).toString()) as {
        media: { store: { objects: number; objectBytes: number; uploadedObjects: number } };
      };
      expect(manifest.media.store).toMatchObject({ objects: 12, objectBytes: 12 * 1500, uploadedObjects: 12 });
      // status: the newest set references every stored content object (its chunks too), not more.
      const status = await runRunner(["status"], env);
      expect(status.stdout).toMatch(/references (\d+) of them, [^(]*\(100%\)/);
    } finally {
      await proxy.close();
    }
  });
});
