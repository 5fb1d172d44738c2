// A store-format restore on file:// of a large set places small objects with worker threads
// (issue 22, full restore at least as fast as tar; EDMS_PLACERS_FROM=1 here makes this small set
// use them, through the runner's bundle and through the source): several workers read, check and write files of many folders
// at once, each in batches. A wild tree (names that are not UTF-8, newlines, hard links across
// folders, symlinks, empty files, setuid and read-only modes, old mtimes) comes back byte for
// byte through the runner's bundle and through the source; a damaged or missing object deep in
// the set fails the restore, its file is never created, and every worker has stopped by the time
// the restore fails (nothing appears in the staging folder afterwards, which the caller removes).
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, readdir, rm, rename, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { restoreStoreMedia } from "../../runner/src/media-store/store-reader.js";
import { FileStore } from "../../runner/src/store/file-store.js";
import { readManifestFile } from "../helpers/craft-set.js";
import { HOSTILE_NAMES, materializeTree, snapshotTree, type MediaTree, type TreeNode } from "../helpers/media-trees.js";
import { ok, runRunner } from "../helpers/runner-cli.js";

const KEY = "placer-workers-test-key-0123456789abcdef";
const FOLDERS = 6;
const FILES_A_FOLDER = 60;
let work: string;
let media: string;
let dest: string;
let backupId: string;
let env: Record<string, string>;

/** Six folders of 60 files (0-6 KB, some empty), one of them with every hostile name; links and hard links across them. */
function wildTree(): MediaTree {
  const file = (name: Buffer, i: number): TreeNode => ({
    kind: "file",
    name,
    content: i % 17 === 0 ? Buffer.alloc(0) : randomBytes((i * 97) % 6000),
    mode: [0o644, 0o600, 0o4755, 0o444][i % 4]!,
    mtime: 1_000_000_000 + i * 3_600,
  });
  const folders: TreeNode[] = [];
  for (let d = 0; d < FOLDERS; d += 1) {
    const children: TreeNode[] = [];
    for (let i = 0; i < FILES_A_FOLDER; i += 1) children.push(file(Buffer.from(`doc-${d}-${i}.pdf`), d * 100 + i));
    if (d === 2) HOSTILE_NAMES.forEach((name, i) => children.push(file(name, i + 1)));
    children.push({ kind: "symlink", name: Buffer.from(`link-${d}`), pick: d * 7, mtime: 1_100_000_000 });
    folders.push({
      kind: "dir",
      name: Buffer.from(`f${d}`),
      mode: d === 4 ? 0o555 : 0o755,
      mtime: 900_000_000,
      children,
    });
  }
  folders.push({
    kind: "dir",
    name: Buffer.from([0xff, 0x66]),
    mode: 0o750,
    mtime: 950_000_000,
    children: [file(Buffer.from([0xe9]), 5)],
  });
  const hardLinks = Array.from({ length: 12 }, (_, i) => ({ file: i * 31, dir: i, name: Buffer.from(`hard-${i}`) }));
  return { root: { mode: 0o755, mtime: 800_000_000, children: folders }, hardLinks };
}

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), "edms-placers-"));
  media = path.join(work, "media");
  dest = path.join(work, "dest");
  await mkdir(media);
  await materializeTree(media, wildTree());
  env = {
    BACKUP_DESTINATION: `file://${dest}`,
    BACKUP_DATABASE: "false",
    MEDIA_DIR: media,
    MEDIA_FORMAT: "store",
    MEDIA_STORE_KEY: KEY,
    EDMS_PLACERS_FROM: "1",
  };
  process.env.EDMS_PLACERS_FROM = "1";
  ok("backup", await runRunner(["backup", "--tier", "daily"], env));
  [backupId] = await readdir(path.join(dest, "daily"));
});
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

async function restoreInto(dir: string) {
  const manifest = await readManifestFile(dest, "daily", backupId!);
  await mkdir(dir);
  const ctx = { store: new FileStore(dest), setPrefix: `daily/${backupId}`, backupId: backupId!, transfers: 8 };
  return restoreStoreMedia(ctx, manifest.media!, dir);
}

/** The object file holding the content of `name` in the media folder. */
async function objectOf(name: string): Promise<string> {
  const want = await readFile(path.join(media, name));
  const objects = path.join(dest, "store", "objects");
  for (const e of await readdir(objects, { recursive: true, withFileTypes: true })) {
    const file = path.join(e.parentPath, e.name);
    if (e.isFile() && !e.name.startsWith(".") && (await readFile(file)).equals(want)) return file;
  }
  throw new Error(`no object holds ${name}`);
}

describe("store restore with placer workers", () => {
  it("brings a wild tree of several hundred files back byte for byte, through the bundle and the source", async () => {
    const expected = await snapshotTree(media);
    const viaCli = path.join(work, "via-cli");
    ok("restore", await runRunner(["restore", "latest", "--media-only", "--media-dir", viaCli, "--yes"], env));
    expect(await snapshotTree(viaCli)).toEqual(expected);
    const viaSource = path.join(work, "via-source");
    const tally = await restoreInto(viaSource);
    expect(tally.files).toBeGreaterThan(FOLDERS * FILES_A_FOLDER);
    expect(await snapshotTree(viaSource)).toEqual(expected);
  });

  const damages = [
    {
      what: "a flipped byte",
      damage: async (file: string) => {
        const bytes = await readFile(file);
        bytes[10] = bytes[10]! ^ 0x01;
        await writeFile(file, bytes);
      },
      says: /sha256 [0-9a-f]{64} does not match the index/,
    },
    { what: "a missing object", damage: (file: string) => rename(file, `${file}.away`), says: /object not found/ },
  ];
  for (const d of damages)
    it(`${d.what} deep in the set fails the restore, its file is never created, and no worker writes afterwards`, async () => {
      const victim = "f5/doc-5-50.pdf";
      const object = await objectOf(victim);
      const intact = await readFile(object);
      await d.damage(object);
      try {
        const into = path.join(work, `damaged-${d.what.replace(/ /g, "-")}`);
        await expect(restoreInto(into)).rejects.toThrow(d.says);
        const after = await snapshotTree(into);
        expect(after.entries.some((line) => line.startsWith(`${victim} `))).toBe(false);
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect(await snapshotTree(into)).toEqual(after);
      } finally {
        await rm(`${object}.away`, { force: true });
        await writeFile(object, intact);
      }
    });

  it("through the CLI, a damaged object leaves the target folder as it was", async () => {
    const target = path.join(work, "target");
    await mkdir(target);
    await writeFile(path.join(target, "kept.txt"), "before");
    const object = await objectOf("f3/doc-3-40.pdf");
    const intact = await readFile(object);
    await writeFile(object, Buffer.concat([intact, Buffer.from("x")]));
    try {
      const r = await runRunner(["restore", "latest", "--media-only", "--media-dir", target, "--yes"], env);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/bytes stored, the index says/);
      expect(await readdir(target)).toEqual(["kept.txt"]);
      expect(await readFile(path.join(target, "kept.txt"), "utf8")).toBe("before");
    } finally {
      await writeFile(object, intact);
    }
  });
});
