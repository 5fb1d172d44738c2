// The two ways a store-format restore places a file on file:// (issue 22, full restore speed):
// objects up to 1 MiB are read whole, checked and only then written through one descriptor;
// larger ones stream through the pool. Either way a damaged object fails the restore, and on the
// small path the damaged file is never created, not even in the staging folder.
import { randomBytes } from "node:crypto";
import { chmod, lstat, mkdir, mkdtemp, readFile, readdir, rm, truncate, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { restoreStoreMedia } from "../../runner/src/media-store/store-reader.js";
import { FileStore } from "../../runner/src/store/file-store.js";
import { readManifestFile } from "../helpers/craft-set.js";
import { snapshotTree } from "../helpers/media-trees.js";
import { ok, runRunner } from "../helpers/runner-cli.js";

const KEY = "small-objects-test-key-0123456789abcdef";
let work: string;
let media: string;
let dest: string;
let backupId: string;
const contents = new Map<string, Buffer>();

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), "edms-small-"));
  media = path.join(work, "media");
  dest = path.join(work, "dest");
  await mkdir(path.join(media, "docs", "deep"), { recursive: true });
  contents.set("docs/a.pdf", randomBytes(50_000));
  contents.set("docs/b.pdf", randomBytes(70_000));
  contents.set("docs/deep/c.pdf", randomBytes(90_000));
  contents.set("docs/empty.txt", Buffer.alloc(0));
  contents.set("big.bin", randomBytes(3 * 1024 * 1024));
  for (const [name, bytes] of contents) await writeFile(path.join(media, name), bytes);
  await chmod(path.join(media, "docs", "a.pdf"), 0o640);
  await chmod(path.join(media, "docs", "b.pdf"), 0o4755);
  await utimes(path.join(media, "docs", "deep", "c.pdf"), 1_000_000, 1_234_567.5);
  ok(
    "backup",
    await runRunner(["backup", "--tier", "daily"], {
      BACKUP_DESTINATION: `file://${dest}`,
      BACKUP_DATABASE: "false",
      MEDIA_DIR: media,
      MEDIA_FORMAT: "store",
      MEDIA_STORE_KEY: KEY,
    }),
  );
  [backupId] = await readdir(path.join(dest, "daily"));
});
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** The object file holding `name`'s content (plain objects are the content itself). */
async function objectOf(name: string): Promise<string> {
  const want = contents.get(name)!;
  const objects = path.join(dest, "store", "objects");
  for (const e of await readdir(objects, { recursive: true, withFileTypes: true })) {
    const file = path.join(e.parentPath, e.name);
    if (e.isFile() && !e.name.startsWith(".") && (await readFile(file)).equals(want)) return file;
  }
  throw new Error(`no object holds ${name}`);
}

async function restoreInto(dir: string) {
  const manifest = await readManifestFile(dest, "daily", backupId);
  await mkdir(dir);
  const ctx = { store: new FileStore(dest), setPrefix: `daily/${backupId}`, backupId };
  return restoreStoreMedia(ctx, manifest.media!, dir);
}

async function exists(file: string): Promise<boolean> {
  return lstat(file).then(
    () => true,
    () => false,
  );
}

describe("store restore on file://: small objects in one read, large ones streamed", () => {
  it("both paths bring back contents, modes (setuid too), mtimes to the nanosecond and folders", async () => {
    const into = path.join(work, "intact");
    await restoreInto(into);
    expect(await snapshotTree(into)).toEqual(await snapshotTree(media));
    for (const [name, bytes] of contents)
      expect((await readFile(path.join(into, name))).equals(bytes), name).toBe(true);
    const c = await lstat(path.join(into, "docs", "deep", "c.pdf"), { bigint: true });
    expect(c.mtimeNs).toBe(1_234_567_500_000_000n);
    expect((await lstat(path.join(into, "docs", "b.pdf"))).mode & 0o7777).toBe(0o4755);
  });

  const damages: Array<{ what: string; victim: string; damage: (file: string) => Promise<void>; says: RegExp }> = [
    {
      what: "a flipped byte in a small object",
      victim: "docs/deep/c.pdf",
      damage: async (file) => {
        const bytes = await readFile(file);
        bytes[500] = bytes[500]! ^ 0x01;
        await writeFile(file, bytes);
      },
      says: /sha256 [0-9a-f]{64} does not match the index/,
    },
    {
      what: "a truncated small object",
      victim: "docs/b.pdf",
      damage: (file) => truncate(file, 10),
      says: /10 bytes stored, the index says 70000/,
    },
    {
      what: "a small object replaced by one over the small-object size",
      victim: "docs/a.pdf",
      damage: (file) => writeFile(file, randomBytes(2 * 1024 * 1024)),
      says: /2097152 bytes stored, the index says 50000/,
    },
    {
      what: "a flipped byte in a large (streamed) object",
      victim: "big.bin",
      damage: async (file) => {
        const bytes = await readFile(file);
        bytes[2_000_000] = bytes[2_000_000]! ^ 0x80;
        await writeFile(file, bytes);
      },
      says: /sha256 [0-9a-f]{64} does not match the index/,
    },
  ];
  for (const d of damages)
    it(`${d.what} fails the restore${d.victim === "big.bin" ? "" : ", and the file is never created"}`, async () => {
      const object = await objectOf(d.victim);
      const intact = await readFile(object);
      await d.damage(object);
      try {
        const into = path.join(work, `damaged-${path.basename(d.victim)}`);
        await expect(restoreInto(into)).rejects.toThrow(d.says);
        if (d.victim !== "big.bin") expect(await exists(path.join(into, d.victim))).toBe(false);
      } finally {
        await writeFile(object, intact);
      }
    });
});
