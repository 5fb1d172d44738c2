// Red team of the placer workers (issue 22): a store restore on file:// whose small files are
// written by worker threads while the main thread makes folders, symlinks and hard links. A tree
// of thousands of files in restricted folders (0o500, setgid), owned by other users, with
// setuid/setgid files, hard links across restricted folders, names that are not UTF-8, with
// newlines or 255 bytes long, and some files big enough to be streamed instead, comes back byte
// for byte with its owners, as root and as the pod's uid; an object the runner cannot read
// half-way fails the restore with one message and leaves the target as it was; a runner killed
// half-way leaves the target as it was and a second restore succeeds. A damaged small object seen
// by a worker while files over 1 MiB are still streamed fails the restore only once those streams
// have ended: none writes into the staging folder after the failure (the caller removes it).
// EDMS_PLACERS_FROM=1 (the runner's env and this process's) makes these sets use the workers.
import {
  chmod,
  lchown,
  link,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  symlink,
  utimes,
  writeFile,
} from "node:fs/promises";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { restoreStoreMedia } from "../../runner/src/media-store/store-reader.js";
import { FileStore } from "../../runner/src/store/file-store.js";
import { readManifestFile } from "../helpers/craft-set.js";
import { printable, snapshotTree } from "../helpers/media-trees.js";
import { ok, runRunner, startRunner } from "../helpers/runner-cli.js";

const KEY = "placer-hostile-test-key-0123456789abcdef";
const POD = { uid: 10001, gid: 10001 };
const FOLDERS = 8;
const FILES_A_FOLDER = 300;
let work: string;

/** Owners of every entry (lstat), as "name uid:gid" lines: snapshotTree does not compare them. */
async function owners(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: Buffer): Promise<void> => {
    const abs = rel.length ? Buffer.concat([Buffer.from(dir + "/"), rel]) : Buffer.from(dir);
    const st = await lstat(abs);
    out.push(`${printable(rel)} ${st.uid}:${st.gid}`);
    if (st.isDirectory())
      for (const name of await readdir(abs, { encoding: "buffer" }))
        await walk(rel.length ? Buffer.concat([rel, Buffer.from("/"), name]) : name);
  };
  await walk(Buffer.alloc(0));
  return out.sort();
}

const NAMES = [
  Buffer.from("new\nline"),
  Buffer.from([0xff, 0xfe, 0x41]),
  Buffer.from([0x63, 0x61, 0x66, 0xe9]),
  Buffer.from("a".repeat(255)),
  Buffer.from("é".repeat(127) + "x"),
];

/**
 * FOLDERS folders of FILES_A_FOLDER files (restricted and setgid folders among them), files with
 * setuid/setgid/sticky and unreadable modes, a few other owners (as root), hostile names, two
 * files over 1 MiB (streamed, not placed by a worker), hard links whose names sit in different
 * restricted folders, symlinks. Everything handed to `owner` first when given.
 */
async function buildTree(media: string, owner?: { uid: number; gid: number }): Promise<void> {
  const folderModes = [0o500, 0o2775, 0o555, 0o700, 0o750, 0o500, 0o755, 0o711];
  const fileModes = [0o644, 0o4755, 0o2755, 0o6750, 0o1644, 0o000, 0o444, 0o600];
  const asRoot = !owner;
  const dirs: string[] = [];
  const files: Array<{ p: string; mode: number; mtime: number; uid?: number; gid?: number }> = [];
  for (let d = 0; d < FOLDERS; d += 1) {
    const dir = path.join(media, `d${d}`);
    await mkdir(dir);
    dirs.push(dir);
    for (let i = 0; i < FILES_A_FOLDER; i += 1) {
      const p = path.join(dir, `f-${d}-${i}`);
      await writeFile(p, `content ${d} ${i} ${"x".repeat((i * 37) % 3000)}`);
      files.push({
        p,
        // The pod cannot back up a file it may not read.
        mode: fileModes[(i + d) % fileModes.length]! || (asRoot ? 0 : 0o400),
        mtime: 1_000_000_000 + d * 1000 + i,
        ...(asRoot && i % 5 === 0 ? { uid: 1234 + d, gid: 5678 + (i % 3) } : {}),
      });
    }
    for (const [n, name] of NAMES.entries()) {
      const p = Buffer.concat([Buffer.from(dir + "/"), name]);
      await writeFile(p, `hostile ${d} ${n}`);
      await chmod(p, 0o640);
    }
    await writeFile(path.join(dir, "symlink-target"), "t");
  }
  // Over SMALL_OBJECT: the streamed path runs beside the workers.
  await writeFile(path.join(dirs[0]!, "big-1"), Buffer.alloc(1024 * 1024 + 7, 1));
  await writeFile(path.join(dirs[5]!, "big-2"), Buffer.alloc(2 * 1024 * 1024, 2));
  // Hard links: first names early and late in the walk, second names in other restricted folders.
  for (let k = 0; k < 40; k += 1) {
    const from = files[(k * 97) % files.length]!.p;
    await link(from, path.join(dirs[(k * 3 + 1) % FOLDERS]!, `hard-${k}`));
  }
  await link(path.join(dirs[0]!, "big-1"), path.join(dirs[7]!, "hard-big"));
  for (let d = 0; d < FOLDERS; d += 1) {
    await symlink("symlink-target", path.join(dirs[d]!, "sym"));
    await symlink(`../d${(d + 1) % FOLDERS}/f-0-0`, path.join(dirs[d]!, "sym-across"));
  }
  if (owner) execFileSync("chown", ["-R", "-h", `${owner.uid}:${owner.gid}`, media]);
  // chown first (it clears setuid/setgid), then modes and mtimes.
  for (const f of files) {
    if (f.uid !== undefined) await lchown(f.p, f.uid, f.gid!);
    await chmod(f.p, f.mode);
    await utimes(f.p, f.mtime, f.mtime);
  }
  for (const [d, dir] of dirs.entries()) {
    await utimes(dir, 900_000_000 + d, 900_000_000 + d);
    await chmod(dir, folderModes[d]!);
  }
  await utimes(media, 800_000_000, 800_000_000);
}

beforeAll(async () => {
  process.env.EDMS_PLACERS_FROM = "1";
  work = await mkdtemp(path.join(tmpdir(), "edms-placers-hostile-"));
  await chmod(work, 0o755);
});
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

function envFor(base: string, media: string): Record<string, string> {
  return {
    BACKUP_DESTINATION: `file://${path.join(base, "dest")}`,
    BACKUP_DATABASE: "false",
    MEDIA_DIR: media,
    MEDIA_FORMAT: "store",
    MEDIA_STORE_KEY: KEY,
    // These sets hold fewer than the 10,000 files from which a full restore uses the workers.
    EDMS_PLACERS_FROM: "1",
  };
}

describe("placer workers, hostile", () => {
  it("as root: thousands of files in restricted folders, other owners, setuid/setgid, hard links across folders", async () => {
    const base = path.join(work, "root");
    const media = path.join(base, "media");
    await mkdir(media, { recursive: true });
    await buildTree(media);
    const env = envFor(base, media);
    ok("backup", await runRunner(["backup", "--tier", "daily"], env));
    const expected = await snapshotTree(media);
    const expectedOwners = await owners(media);
    expect(expected.hardLinkGroups.length).toBeGreaterThan(30);
    const target = path.join(base, "restored");
    ok("restore", await runRunner(["restore", "latest", "--media-only", "--media-dir", target, "--yes"], env));
    expect(await snapshotTree(target)).toEqual(expected);
    expect(await owners(target)).toEqual(expectedOwners);
  }, 600_000);

  it("as the pod's uid (no chown): the same tree owned by it comes back byte for byte", async () => {
    const base = path.join(work, "pod");
    const media = path.join(base, "media");
    await mkdir(media, { recursive: true });
    await lchown(base, POD.uid, POD.gid);
    await buildTree(media, POD);
    const env = envFor(base, media);
    ok("backup", await runRunner(["backup", "--tier", "daily"], env, POD));
    const expected = await snapshotTree(media);
    const target = path.join(base, "restored");
    ok("restore", await runRunner(["restore", "latest", "--media-only", "--media-dir", target, "--yes"], env, POD));
    expect(await snapshotTree(target)).toEqual(expected);
    expect((await owners(target)).every((line) => line.endsWith(" 10001:10001"))).toBe(true);

    // An object the pod cannot read, deep in the set: one message, exit 1, target as it was.
    const objects = path.join(base, "dest", "store", "objects");
    const want = await readFile(path.join(media, "d6", "f-6-200"));
    let victim: string | undefined;
    for (const e of await readdir(objects, { recursive: true, withFileTypes: true })) {
      const file = path.join(e.parentPath, e.name);
      if (e.isFile() && (await readFile(file)).equals(want)) victim = file;
    }
    expect(victim).toBeDefined();
    await lchown(victim!, 0, 0);
    await chmod(victim!, 0o600);
    const before = await snapshotTree(target);
    const r = await runRunner(["restore", "latest", "--media-only", "--media-dir", target, "--yes"], env, POD);
    expect(r.code, r.stderr).toBe(1);
    // One message naming the object it could not read.
    expect(r.stderr.trim().split("\n")).toEqual([expect.stringMatching(/^edms-backup: restore failed: .*objects/)]);
    expect(r.stderr).toMatch(/EACCES|permission denied/i);
    expect(await snapshotTree(target)).toEqual(before);
    // No staging folder left beside the target.
    expect((await readdir(base)).sort()).toEqual(["dest", "media", "restored"]);
  }, 600_000);

  for (const signal of ["SIGTERM", "SIGKILL"] as const)
    it(`${signal} half-way through placing: the target is as it was and a second restore succeeds`, async () => {
      const base = path.join(work, `kill-${signal}`);
      const media = path.join(base, "media");
      await mkdir(media, { recursive: true });
      await buildTree(media);
      const env = envFor(base, media);
      ok("backup", await runRunner(["backup", "--tier", "daily"], env));
      const target = path.join(base, "target");
      await mkdir(target);
      await writeFile(path.join(target, "kept.txt"), "before");
      const running = await startRunner(["restore", "latest", "--media-only", "--media-dir", target, "--yes"], env);
      // Wait until files are being placed in the staging folder beside the target.
      const staged = async (): Promise<number> => {
        for (const name of await readdir(base))
          if (!["dest", "media", "target"].includes(name))
            return (await readdir(path.join(base, name), { recursive: true }).catch(() => [])).length;
        return 0;
      };
      for (let i = 0; i < 600 && (await staged()) < 200; i += 1) await new Promise((r) => setTimeout(r, 50));
      expect(await staged()).toBeGreaterThanOrEqual(200);
      running.child.kill(signal);
      const result = await running.result;
      expect(result.code === 0).toBe(false);
      expect(await readdir(target)).toEqual(["kept.txt"]);
      const left = (await readdir(base)).filter((name) => name.includes(".edms-staging-"));
      // A SIGTERM is caught and the staging removed; after a SIGKILL `status` names what is left.
      if (signal === "SIGTERM") expect(left).toEqual([]);
      else {
        expect(left.length).toBeGreaterThan(0);
        const st = await runRunner(["status"], { ...env, MEDIA_DIR: target });
        expect(st.stdout).toMatch(/LEFT BEHIND: staging folder .*the next restore or drill removes it/);
      }
      ok("second restore", await runRunner(["restore", "latest", "--media-only", "--media-dir", target, "--yes"], env));
      expect(await snapshotTree(target)).toEqual(await snapshotTree(media));
      // The stale staging is swept; the previous contents are kept for undo.
      const after = await readdir(base);
      expect(after.filter((name) => name.includes(".edms-staging-"))).toEqual([]);
      expect(after.filter((name) => name.includes(".edms-previous-")).length).toBe(1);
    }, 600_000);
});

describe("placer workers, a failure while large files stream", () => {
  it("a damaged small object fails the restore and nothing writes into the staging folder afterwards", async () => {
    const base = path.join(work, "streaming");
    const media = path.join(base, "media");
    await mkdir(path.join(media, "a-big"), { recursive: true });
    await mkdir(path.join(media, "b-small"));
    // Listed first and streamed (over 1 MiB), still being copied when a worker meets the damage.
    for (let i = 0; i < 4; i += 1)
      await writeFile(path.join(media, "a-big", `big-${i}`), Buffer.alloc(48 << 20, i + 1));
    for (let i = 0; i < 3000; i += 1) await writeFile(path.join(media, "b-small", `s-${i}`), `small ${i}`);
    const env = envFor(base, media);
    ok("backup", await runRunner(["backup", "--tier", "daily"], env));
    const dest = path.join(base, "dest");
    const [backupId] = await readdir(path.join(dest, "daily"));
    const want = await readFile(path.join(media, "b-small", "s-0"));
    const objects = path.join(dest, "store", "objects");
    for (const e of await readdir(objects, { recursive: true, withFileTypes: true })) {
      const file = path.join(e.parentPath, e.name);
      if (e.isFile() && (await readFile(file)).equals(want)) await writeFile(file, "damaged!");
    }
    const manifest = await readManifestFile(dest, "daily", backupId!);
    const into = path.join(base, "into");
    await mkdir(into);
    const ctx = { store: new FileStore(dest), setPrefix: `daily/${backupId}`, backupId: backupId!, transfers: 8 };
    await expect(restoreStoreMedia(ctx, manifest.media!, into)).rejects.toThrow(
      /does not match the index|bytes stored/,
    );
    const sizes = async () =>
      Promise.all(
        [0, 1, 2, 3].map((i) =>
          lstat(path.join(into, "a-big", `big-${i}`)).then(
            (s) => s.size,
            () => -1,
          ),
        ),
      );
    const after = await sizes();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await sizes()).toEqual(after);
  }, 600_000);
});
