// The content store (MEDIA_FORMAT=store) as a user and an attacker meet it, on file:// (where a
// test can damage objects) and on moto: names that reveal nothing, uploads of only what changed,
// a killed run's objects reused, damage found by verify and refused by restore, bad keys refused.
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, readdir, rm, stat, truncate, unlink, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { newAgeKey, type AgeKeyPair } from "../helpers/age-key.js";
import { snapshotTree } from "../helpers/media-trees.js";
import { runRunner, startRunner, type RunnerResult } from "../helpers/runner-cli.js";
import { chunkKeysOf, chunkKeysUnder, contentObjectFiles, storeObjectFiles } from "../helpers/segment-lists.js";
import { createTestBucket, type TestBucket } from "../helpers/s3-bucket.js";
import { fileStoreEnv } from "../helpers/store-env.js";

const s3Endpoint = inject("s3Endpoint");
const KEY = "media-store-test-key-0123456789abcdef";

let work: string;
let age: AgeKeyPair;
let n = 0;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), "edms-store-"));
  age = await newAgeKey(work);
});
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

interface StoreManifest {
  formatVersion: number;
  backupId: string;
  startedAt: string;
  media: {
    key: string;
    format: string;
    files: number;
    store: {
      objects: number;
      uploadedObjects: number;
      uploadedBytes: number;
      reusedObjects: number;
      unchangedFiles?: number;
    };
  };
}

function ok(step: string, r: RunnerResult): RunnerResult {
  if (r.code !== 0) throw new Error(`${step} exited ${r.code}:\n${r.stderr}\n${r.stdout.slice(-3000)}`);
  return r;
}

/** A media folder with `files` files of `size` random bytes each, plus two with one content. */
async function makeMedia(files: number, size = 2000): Promise<{ media: string; contents: Buffer[] }> {
  n += 1;
  const media = path.join(work, `media-${n}`);
  await mkdir(path.join(media, "docs"), { recursive: true });
  const contents: Buffer[] = [];
  for (let i = 0; i < files; i += 1) {
    const content = randomBytes(size);
    contents.push(content);
    await writeFile(path.join(media, "docs", `doc-${i}.pdf`), content);
  }
  await writeFile(path.join(media, "same-1.txt"), "the same words");
  await writeFile(path.join(media, "same-2.txt"), "the same words");
  contents.push(Buffer.from("the same words"));
  return { media, contents };
}

const fileEnv = (dest: string, media: string, extra: Record<string, string> = {}) =>
  fileStoreEnv(dest, media, KEY, extra);

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []))
    if (e.isFile()) out.push(path.join(e.parentPath, e.name));
  return out;
}

/** The destination's manifests, oldest first (by start time: two ids of one second sort at random). */
async function manifests(dest: string): Promise<StoreManifest[]> {
  const files = (await filesUnder(dest)).filter((f) => f.endsWith("/manifest.json"));
  const all = await Promise.all(files.map(async (f) => JSON.parse(await readFile(f, "utf8")) as StoreManifest));
  return all.sort((a, b) => (a.startedAt < b.startedAt ? -1 : 1));
}

const storeFiles = storeObjectFiles;
const objectFiles = contentObjectFiles;

/** The bucket's content objects under `prefix`, less the chunks its segment lists name. */
async function bucketObjects(bucket: TestBucket, prefix: string): Promise<string[]> {
  const keys = await bucket.keys();
  const chunks = new Set<string>();
  for (const k of keys.filter((k) => k.startsWith(prefix) && k.endsWith("/media-segments.txt")))
    for (const c of chunkKeysOf((await bucket.get(k)).toString())) chunks.add(`${prefix}${c}`);
  return keys.filter((k) => k.startsWith(`${prefix}store/objects/`) && !chunks.has(k));
}

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

describe("the media store: names, deduplication, resumption", () => {
  it("stores each distinct content once, under a name that is not its hash and changes with the key", async () => {
    const { media, contents } = await makeMedia(5);
    const dest = path.join(work, `dest-${n}`);
    ok("backup", await runRunner(["backup", "--tier", "daily"], fileEnv(dest, media)));
    const [m] = await manifests(dest);
    expect(m!.formatVersion).toBe(4);
    expect(m!.media).toMatchObject({ format: "store", layout: "segments", key: "media-segments.txt", files: 7 });
    // Seven files, six distinct contents: six objects.
    const names = (await objectFiles(dest)).map((f) => path.basename(f));
    expect(names).toHaveLength(6);
    expect(m!.media.store).toMatchObject({ objects: 6, uploadedObjects: 6, reusedObjects: 0 });
    const hashes = new Set(contents.map(sha256));
    for (const name of names) {
      expect(name).toMatch(/^[0-9a-f]{64}$/);
      expect(hashes.has(name)).toBe(false);
    }
    // Objects hold the content as it was (not encrypted here).
    const stored = await Promise.all((await objectFiles(dest)).map((f) => readFile(f)));
    expect(new Set(stored.map(sha256))).toEqual(hashes);

    const other = path.join(work, `dest-${n}-other-key`);
    ok(
      "backup with another key",
      await runRunner(["backup", "--tier", "daily"], fileEnv(other, media, { MEDIA_STORE_KEY: `${KEY}-rotated` })),
    );
    const otherNames = (await objectFiles(other)).map((f) => path.basename(f));
    expect(otherNames).toHaveLength(6);
    expect(otherNames.filter((x) => names.includes(x))).toEqual([]);
  });

  it("a second backup uploads only the changed contents, and both sets restore exactly", async () => {
    const { media } = await makeMedia(20);
    const dest = path.join(work, `dest-${n}`);
    const env = fileEnv(dest, media);
    ok("first backup", await runRunner(["backup", "--tier", "daily"], env));
    const first = await snapshotTree(media);
    await writeFile(path.join(media, "docs", "doc-3.pdf"), randomBytes(2000)); // rewritten
    await writeFile(path.join(media, "docs", "new.pdf"), randomBytes(3000)); // new
    await unlink(path.join(media, "docs", "doc-4.pdf")); // deleted
    ok("second backup", await runRunner(["backup", "--tier", "daily"], env));
    const [m1, m2] = await manifests(dest);
    expect(m2!.media.store).toMatchObject({ uploadedObjects: 2, reusedObjects: 19, objects: 21 });
    expect(m2!.media.store.uploadedBytes).toBe(5000);
    expect(await objectFiles(dest)).toHaveLength(23);
    for (const [m, expected] of [
      [m1!, first],
      [m2!, await snapshotTree(media)],
    ] as const) {
      const target = path.join(work, `restored-${m.backupId}`);
      ok("restore", await runRunner(["restore", m.backupId, "--media-only", "--media-dir", target, "--yes"], env));
      expect(await snapshotTree(target)).toEqual(expected);
    }
  });

  it("metadata grows with the change: an unchanged backup stores no chunk, one changed file only its segment's", async () => {
    n += 1;
    const media = path.join(work, `media-${n}`);
    // 3,000 files in 30 folders: several segments (~512 entries each on average).
    for (let d = 0; d < 30; d += 1) {
      await mkdir(path.join(media, `d${d}`), { recursive: true });
      for (let i = 0; i < 100; i += 1) await writeFile(path.join(media, `d${d}`, `f${i}.txt`), `file ${d}/${i}\n`);
    }
    const dest = path.join(work, `dest-${n}`);
    const env = fileEnv(dest, media);
    const added = async (step: string) => {
      const before = new Set(await storeFiles(dest));
      ok(step, await runRunner(["backup", "--tier", "daily"], env));
      const fresh = (await storeFiles(dest)).filter((f) => !before.has(f));
      let bytes = 0;
      for (const f of fresh) bytes += (await stat(f)).size;
      const m = (await manifests(dest)).at(-1)!;
      const setFiles = await readdir(path.join(dest, "daily", m.backupId));
      return { fresh: fresh.map((f) => path.relative(dest, f)), bytes, m, setFiles };
    };
    const first = await added("first");
    const segments = (first.m.media.store as { segments?: number }).segments!;
    expect(segments).toBeGreaterThan(2);
    expect(first.fresh).toHaveLength(3000 + 3 * segments);
    expect(first.setFiles.sort()).toEqual(["manifest.json", "media-segments.txt"]);
    const firstChunks = await chunkKeysUnder(dest);
    let metadataBytes = 0;
    for (const k of firstChunks) metadataBytes += (await stat(path.join(dest, k))).size;

    const unchanged = await added("unchanged");
    expect(unchanged.fresh).toEqual([]);
    expect(unchanged.m.media.store).toMatchObject({ uploadedObjects: 0, uploadedChunks: 0, segments });

    await writeFile(path.join(media, "d17", "f42.txt"), "rewritten\n");
    const one = await added("one file changed");
    const chunks = await chunkKeysUnder(dest);
    const newChunks = one.fresh.filter((k) => chunks.has(k));
    // The file's new object, and its segment's index, stat and object-list chunks: nothing else.
    expect(one.fresh).toHaveLength(4);
    expect(newChunks).toHaveLength(3);
    expect(one.m.media.store).toMatchObject({ uploadedObjects: 1, uploadedChunks: 3, segments });
    expect(one.bytes).toBeLessThan(metadataBytes / 2);
    ok("verify --full", await runRunner(["verify", one.m.backupId, "--full"], env));
    const target = path.join(work, `restored-${n}`);
    ok("restore", await runRunner(["restore", one.m.backupId, "--media-only", "--media-dir", target, "--yes"], env));
    expect(await snapshotTree(target)).toEqual(await snapshotTree(media));
  });

  it("a run killed half-way leaves its objects, and the next run reuses them instead of uploading again", async () => {
    const { media } = await makeMedia(300, 64 * 1024);
    const dest = path.join(work, `dest-${n}`);
    const env = fileEnv(dest, media, { MEDIA_STORE_TRANSFERS: "2" });
    const killed = await startRunner(["backup", "--tier", "daily"], env);
    for (let i = 0; i < 600 && (await objectFiles(dest)).length < 40; i += 1)
      await new Promise((r) => setTimeout(r, 25));
    killed.child.kill("SIGKILL");
    await killed.result;
    // Files' objects, and any chunks of segments the walk had finished (named by no list yet).
    const leftKeys = (await storeFiles(dest)).map((f) => path.relative(dest, f));
    expect(leftKeys.length).toBeGreaterThanOrEqual(40);
    expect(await manifests(dest)).toEqual([]);

    ok("backup after the kill", await runRunner(["backup", "--tier", "daily"], env));
    // The killed run's chunks are the next run's (same files, same stat): they are not files' objects.
    const chunks = await chunkKeysUnder(dest);
    const left = leftKeys.filter((k) => !chunks.has(k)).length;
    expect(left).toBeLessThan(301);
    const [m] = await manifests(dest);
    expect(m!.media.store.reusedObjects).toBe(left);
    expect(m!.media.store.uploadedObjects).toBe(301 - left);
    const target = path.join(work, `restored-${n}`);
    ok("restore", await runRunner(["restore", "latest", "--media-only", "--media-dir", target, "--yes"], env));
    expect(await snapshotTree(target)).toEqual(await snapshotTree(media));
  });

  it("on S3 with age: objects are sealed (.age), nothing in the bucket is named by a content hash, restore is exact", async () => {
    const bucket = await createTestBucket(s3Endpoint);
    const { media, contents } = await makeMedia(4);
    const env = {
      ...bucket.env("enc"),
      BACKUP_DATABASE: "false",
      MEDIA_DIR: media,
      MEDIA_FORMAT: "store",
      MEDIA_STORE_KEY: KEY,
      ENCRYPTION_RECIPIENTS: age.recipient,
      AGE_IDENTITY_FILE: age.file,
    };
    ok("backup", await runRunner(["backup", "--tier", "weekly"], env));
    ok("second backup", await runRunner(["backup", "--tier", "weekly"], env));
    const keys = await bucket.keys();
    const objects = await bucketObjects(bucket, "enc/");
    expect(objects).toHaveLength(5);
    for (const k of objects) expect(k).toMatch(/^enc\/store\/objects\/([0-9a-f]{2})\/\1[0-9a-f]{62}\.age$/);
    for (const h of contents.map(sha256)) expect(keys.join("\n")).not.toContain(h);
    for (const k of objects) expect((await bucket.get(k)).subarray(0, 21).toString()).toBe("age-encryption.org/v1");
    // The metadata: two segment lists (the sets' only media files), naming one set of chunks (nothing
    // changed): the index chunk age-encrypted, the stat chunk sealed, the object-list chunk plain.
    const lists = keys.filter((k) => k.endsWith("/media-segments.txt"));
    expect(lists).toHaveLength(2);
    expect(keys.filter((k) => /media-(index|objects|stat-cache)/.test(k))).toEqual([]);
    const chunks = chunkKeysOf((await bucket.get(lists[0]!)).toString());
    expect(chunkKeysOf((await bucket.get(lists[1]!)).toString())).toEqual(chunks);
    const [indexChunk, statChunk, objectsChunk] = chunks as [string, string, string];
    expect(indexChunk).toMatch(/^store\/objects\/([0-9a-f]{2})\/\1[0-9a-f]{62}\.age$/);
    expect((await bucket.get(`enc/${indexChunk}`)).subarray(0, 21).toString()).toBe("age-encryption.org/v1");
    expect((await bucket.get(`enc/${statChunk}`)).subarray(0, 9).toString()).toBe("EDMSSEAL1");
    const listed = (await bucket.get(`enc/${objectsChunk}`)).toString().split("\n").filter(Boolean);
    expect([...new Set(listed)].sort()).toEqual(objects.map((k) => k.slice("enc/".length)).sort());
    ok("verify --full", await runRunner(["verify", "latest", "--tier", "weekly", "--full"], env));
    const target = path.join(work, `restored-s3-${n}`);
    ok(
      "restore",
      await runRunner(["restore", "latest", "--tier", "weekly", "--media-only", "--media-dir", target, "--yes"], env),
    );
    expect(await snapshotTree(target)).toEqual(await snapshotTree(media));
  });
});

describe("the media store: damage is found and refused", () => {
  async function backedUp(extra: Record<string, string> = {}) {
    const { media } = await makeMedia(6);
    const dest = path.join(work, `dest-${n}`);
    const env = fileEnv(dest, media, extra);
    ok("backup", await runRunner(["backup", "--tier", "daily"], env));
    return { media, dest, env, objects: (await objectFiles(dest)).sort() };
  }

  it("verify names a missing object and a resized one from the listing; --full finds a flipped byte", async () => {
    const { dest, env, objects } = await backedUp();
    ok("verify of an intact set", await runRunner(["verify", "latest", "--full"], env));

    const flipped = objects[2]!;
    const bytes = await readFile(flipped);
    bytes[0] = bytes[0]! ^ 0xff;
    await writeFile(flipped, bytes);
    ok("verify without --full (sizes match)", await runRunner(["verify", "latest"], env));
    const full = await runRunner(["verify", "latest", "--full"], env);
    expect(full.code).toBe(1);
    expect(full.stderr).toMatch(/does not match the index/);

    await unlink(objects[0]!);
    await truncate(objects[1]!, 10);
    const r = await runRunner(["verify", "latest"], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${path.relative(dest, objects[0]!)} `);
    expect(r.stderr).toMatch(/missing from the store/);
    expect(r.stderr).toMatch(/10 bytes stored, the index says 2000/);
  });

  it("restore refuses a damaged object and leaves the target folder exactly as it was", async () => {
    const variants: Array<Record<string, string>> = [
      {},
      { ENCRYPTION_RECIPIENTS: age.recipient, AGE_IDENTITY_FILE: age.file },
    ];
    for (const extra of variants) {
      const { env, objects } = await backedUp(extra);
      const victim = objects[3]!;
      const bytes = await readFile(victim);
      bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0x01;
      await writeFile(victim, bytes);
      const target = path.join(work, `live-${n}`);
      await mkdir(target);
      await writeFile(path.join(target, "precious.txt"), "keep me");
      const before = await snapshotTree(target);
      const r = await runRunner(["restore", "latest", "--media-only", "--media-dir", target, "--yes"], env);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(extra.ENCRYPTION_RECIPIENTS ? /age --decrypt/ : /does not match the index/);
      expect(await snapshotTree(target)).toEqual(before);
      expect((await readdir(work)).filter((f) => f.includes(`live-${n}.edms-`))).toEqual([]);
    }
  });

  it("a replaced segment list is refused by the manifest's checksum before anything is swapped", async () => {
    const { dest, env } = await backedUp();
    const list = (await filesUnder(dest)).find((f) => f.endsWith("media-segments.txt"))!;
    // Still a well-formed list of the same length (one hex digit of a sha256 changed): only the
    // manifest's sha256 tells.
    const text = await readFile(list, "utf8");
    const at = text.length - 2;
    await writeFile(list, text.slice(0, at) + (text[at] === "0" ? "1" : "0") + text.slice(at + 1));
    const v = await runRunner(["verify", "latest"], env);
    expect(v.code).toBe(1);
    expect(v.stderr).toMatch(/media-segments\.txt: sha256 [0-9a-f]{64} does not match the manifest/);
    const target = path.join(work, `untouched-${n}`);
    const r = await runRunner(["restore", "latest", "--media-only", "--media-dir", target, "--yes"], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/does not match the manifest/);
  });

  it("a damaged or missing index chunk fails verify and restore, naming the set, the segment and the chunk", async () => {
    const variants: Array<Record<string, string>> = [
      {},
      { ENCRYPTION_RECIPIENTS: age.recipient, AGE_IDENTITY_FILE: age.file },
    ];
    for (const extra of variants) {
      const { dest, env } = await backedUp(extra);
      const list = (await filesUnder(dest)).find((f) => f.endsWith("media-segments.txt"))!;
      const [indexChunk] = chunkKeysOf(await readFile(list, "utf8"));
      const file = path.join(dest, indexChunk!);
      const bytes = await readFile(file);
      bytes[bytes.length - 10] = bytes[bytes.length - 10]! ^ 0x01;
      await writeFile(file, bytes);
      const where = new RegExp(`media-segments\\.txt, segment 1 of 1: chunk ${indexChunk}`);
      const v = await runRunner(["verify", "latest"], env);
      expect(v.code, v.stderr).toBe(1);
      expect(v.stderr).toMatch(where);
      expect(v.stderr).toMatch(/damaged|corrupted/);
      const target = path.join(work, `untouched-${n}-${Object.keys(extra).length}`);
      const r = await runRunner(["restore", "latest", "--media-only", "--media-dir", target, "--yes"], env);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(where);
      await unlink(file);
      const gone = await runRunner(["verify", "latest"], env);
      expect(gone.code).toBe(1);
      expect(gone.stderr).toMatch(new RegExp(`segment 1's index chunk ${indexChunk}: missing from the store`));
      if (extra.AGE_IDENTITY_FILE) {
        // Without the identity verify cannot read the index, yet checks every chunk against the listing.
        const { AGE_IDENTITY_FILE: _identity, ...sealed } = env;
        const blind = await runRunner(["verify", "latest"], sealed);
        expect(blind.code).toBe(1);
        expect(blind.stderr).toMatch(new RegExp(`index chunk ${indexChunk}: missing from the store`));
      }
      const r2 = await runRunner(["restore", "latest", "--media-only", "--media-dir", target, "--yes"], env);
      expect(r2.code).toBe(1);
      expect(r2.stderr).toMatch(where);
      expect(r2.stderr).toMatch(/could not be read/);
    }
  });

  it("a damaged index chunk is carried into later dailies, never into a monthly: it starts a new chunk generation the next daily keeps", async () => {
    const { media, dest, env } = await backedUp();
    const setChunks = async (id: string) =>
      chunkKeysOf(
        await readFile(
          (await filesUnder(dest)).find((f) => f.endsWith(`${id}/media-segments.txt`))!,
          "utf8",
        ),
      );
    const first = (await manifests(dest)).at(-1)!;
    const [indexChunk] = await setChunks(first.backupId);
    const file = path.join(dest, indexChunk!);
    const bytes = await readFile(file);
    bytes[bytes.length - 10] = bytes[bytes.length - 10]! ^ 0x01;
    await writeFile(file, bytes);

    // Named from its content, the damaged chunk is reused by the next daily (plain verify finds it).
    ok("daily", await runRunner(["backup", "--tier", "daily"], env));
    const daily = (await manifests(dest)).at(-1)!;
    expect(await setChunks(daily.backupId)).toContain(indexChunk);
    expect((await runRunner(["verify", daily.backupId], env)).code).toBe(1);

    // The monthly tier reads every file and names its chunks anew: none is shared with earlier sets.
    ok("monthly", await runRunner(["backup", "--tier", "monthly"], env));
    const monthly = (await manifests(dest)).at(-1)!;
    const store = monthly.media.store as { chunkGeneration?: string; uploadedChunks?: number; segments?: number };
    expect(store.chunkGeneration).toBe(monthly.backupId);
    expect(store.uploadedChunks).toBe(3 * store.segments!);
    const monthlyChunks = await setChunks(monthly.backupId);
    const earlier = new Set([...(await setChunks(first.backupId)), ...(await setChunks(daily.backupId))]);
    expect(monthlyChunks.filter((k) => earlier.has(k))).toEqual([]);
    ok("verify the monthly", await runRunner(["verify", monthly.backupId, "--full"], env));
    const target = path.join(work, `monthly-${n}`);
    ok("restore", await runRunner(["restore", monthly.backupId, "--media-only", "--media-dir", target, "--yes"], env));
    expect(await snapshotTree(target)).toEqual(await snapshotTree(media));

    // The daily after it keeps the monthly's generation, so it reuses every chunk.
    ok("daily after", await runRunner(["backup", "--tier", "daily"], env));
    const after = (await manifests(dest)).at(-1)!;
    expect(after.media.store).toMatchObject({ chunkGeneration: monthly.backupId, uploadedChunks: 0 });
    expect((await setChunks(after.backupId)).sort()).toEqual([...monthlyChunks].sort());
    ok("verify the daily after", await runRunner(["verify", after.backupId], env));
  });
});

describe("the media store: the default format, and an upgrade that changes no setting", () => {
  /** What an existing tar user has: no MEDIA_FORMAT, no key. */
  const upgradeEnv = (dest: string, media: string, extra: Record<string, string> = {}) => ({
    ...fileEnv(dest, media),
    MEDIA_FORMAT: "",
    MEDIA_STORE_KEY: "",
    ...extra,
  });

  it("encrypted without a key, or with a short one, the backup exits 2 naming the key and MEDIA_FORMAT=tar, and writes nothing", async () => {
    const { media } = await makeMedia(1);
    const dest = path.join(work, `dest-${n}`);
    const encrypted = upgradeEnv(dest, media, { ENCRYPTION_RECIPIENTS: age.recipient });
    const missing = await runRunner(["backup", "--tier", "daily"], encrypted);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(
      /MEDIA_STORE_KEY_FILE \(or MEDIA_STORE_KEY\): required for encrypted backups in the store format \(the default MEDIA_FORMAT\).*or set MEDIA_FORMAT=tar to keep writing tar sets/,
    );
    const keyFile = path.join(work, "short.key");
    await writeFile(keyFile, "too-short\n");
    const short = await runRunner(["backup", "--tier", "daily"], {
      ...upgradeEnv(dest, media),
      MEDIA_STORE_KEY_FILE: keyFile,
    });
    expect(short.code).toBe(2);
    expect(short.stderr).toMatch(/holds fewer than 32 characters/);
    expect(short.stderr + short.stdout).not.toContain("too-short");
    expect(await filesUnder(dest)).toEqual([]);
    // Told to keep tar, the same encrypted backup needs no key.
    ok("encrypted tar backup", await runRunner(["backup", "--tier", "daily"], { ...encrypted, MEDIA_FORMAT: "tar" }));
    expect((await filesUnder(dest)).map((f) => path.basename(f)).sort()).toEqual([
      "manifest.json",
      "names.json.age",
      "storage.tar.zst.age",
    ]);
  });

  it("unencrypted without a key, on a destination of tar sets: store sets with the destination's own key; the tar set still lists, verifies and restores", async () => {
    const { media, contents } = await makeMedia(4);
    const dest = path.join(work, `dest-${n}`);
    ok("tar backup", await runRunner(["backup", "--tier", "daily"], upgradeEnv(dest, media, { MEDIA_FORMAT: "tar" })));
    const tarTree = await snapshotTree(media);
    await writeFile(path.join(media, "docs", "new.pdf"), randomBytes(1000));
    const env = upgradeEnv(dest, media);
    // Two first store backups at once: one makes the key, the other reads it, so both name alike.
    const [a, b] = await Promise.all([
      runRunner(["backup", "--tier", "daily"], env),
      runRunner(["backup", "--tier", "adhoc"], env),
    ]);
    ok("store backup", a);
    ok("concurrent store backup", b);
    const [tarSet, ...storeSets] = await manifests(dest);
    expect(tarSet!.formatVersion).toBe(3);
    expect(storeSets.map((m) => [m.formatVersion, m.media.format])).toEqual([
      [4, "store"],
      [4, "store"],
    ]);
    const key = (await readFile(path.join(dest, "store", "names-key"), "utf8")).trim();
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    // makeMedia's distinct contents and the new file's, each stored once, none named by its hash.
    const names = (await objectFiles(dest)).map((f) => path.basename(f));
    expect(names).toHaveLength(contents.length + 1);
    for (const content of contents) expect(names).not.toContain(sha256(content));
    ok("third backup", await runRunner(["backup", "--tier", "daily"], env));
    const third = (await manifests(dest)).at(-1)!;
    expect(third.media.store).toMatchObject({
      uploadedObjects: 0,
      reusedObjects: contents.length + 1,
    });

    const list = ok("list", await runRunner(["list", "--json"], env));
    expect(list.stdout).toContain(tarSet!.backupId);
    ok("verify the tar set", await runRunner(["verify", tarSet!.backupId], env));
    ok("verify the store set", await runRunner(["verify", storeSets[0]!.backupId], env));
    const fromTar = path.join(work, `restored-${n}-tar`);
    ok(
      "restore the tar set",
      await runRunner(["restore", tarSet!.backupId, "--media-only", "--media-dir", fromTar, "--yes"], env),
    );
    expect(await snapshotTree(fromTar)).toEqual(tarTree);
    const fromStore = path.join(work, `restored-${n}-store`);
    // By id: a run this fast can start in the same second as the tar set, and sets of one second
    // are ordered by their random suffix, so `latest` may be either.
    ok(
      "restore the third",
      await runRunner(["restore", third.backupId, "--media-only", "--media-dir", fromStore, "--yes"], env),
    );
    expect(await snapshotTree(fromStore)).toEqual(await snapshotTree(media));
  });

  it("on S3 too: the first store backup without a key makes the destination's key, the next reuses every object", async () => {
    const bucket = await createTestBucket(s3Endpoint);
    const { media, contents } = await makeMedia(3);
    const env = { ...bucket.env("plain"), BACKUP_DATABASE: "false", MEDIA_DIR: media };
    ok("backup", await runRunner(["backup", "--tier", "daily"], env));
    ok("second backup", await runRunner(["backup", "--tier", "daily"], env));
    const keys = await bucket.keys();
    expect(keys).toContain("plain/store/names-key");
    expect(await bucketObjects(bucket, "plain/")).toHaveLength(contents.length);
    for (const h of contents.map(sha256)) expect(keys.join("\n")).not.toContain(h);
    const target = path.join(work, `restored-s3-${n}`);
    ok("restore", await runRunner(["restore", "latest", "--media-only", "--media-dir", target, "--yes"], env));
    expect(await snapshotTree(target)).toEqual(await snapshotTree(media));
  });

  it("MEDIA_FORMAT=tar keeps writing today's tar set (format 3)", async () => {
    const { media } = await makeMedia(1);
    const dest = path.join(work, `dest-${n}`);
    ok("backup", await runRunner(["backup", "--tier", "daily"], { ...fileEnv(dest, media), MEDIA_FORMAT: "tar" }));
    const files = (await filesUnder(dest)).map((f) => path.basename(f)).sort();
    expect(files).toEqual(["manifest.json", "storage.tar.zst"]);
    const [m] = await manifests(dest);
    expect(m!.formatVersion).toBe(3);
  });
});

describe("the media store: change detection (the sealed stat cache)", () => {
  it("unchanged files are not read again; a rewrite that keeps size and mtime is still caught; --rehash and monthly read all", async () => {
    const variants: Array<Record<string, string>> = [
      {},
      { ENCRYPTION_RECIPIENTS: age.recipient, AGE_IDENTITY_FILE: age.file },
    ];
    for (const extra of variants) {
      const { media } = await makeMedia(6);
      const dest = path.join(work, `dest-${n}`);
      const env = fileEnv(dest, media, extra);
      // The backups run as the pod does: no age identity (encrypted, the stat chunks still open).
      const { AGE_IDENTITY_FILE: _identity, ...pod } = env;
      const victim = path.join(media, "docs", "doc-0.pdf");
      await utimes(victim, 1_700_000_000, 1_700_000_000);
      const newest = async () => (await manifests(dest)).sort((a, b) => (a.startedAt < b.startedAt ? -1 : 1)).at(-1)!;
      ok("first", await runRunner(["backup", "--tier", "daily"], pod));
      expect((await newest()).media.store.unchangedFiles).toBe(0);
      ok("second", await runRunner(["backup", "--tier", "daily"], pod));
      expect((await newest()).media.store).toMatchObject({ unchangedFiles: 8, uploadedObjects: 0 });

      // Same size, same mtime, other bytes: only the ctime (and the content) tell.
      const before = await stat(victim);
      await writeFile(victim, randomBytes(2000));
      await utimes(victim, 1_700_000_000, 1_700_000_000);
      expect((await stat(victim)).mtimeMs).toBe(before.mtimeMs);
      ok("third", await runRunner(["backup", "--tier", "daily"], pod));
      expect((await newest()).media.store).toMatchObject({ unchangedFiles: 7, uploadedObjects: 1 });
      const target = path.join(work, `restored-${n}-${Object.keys(extra).length}`);
      // By id: two sets of one second are ordered by their random suffix, so `latest` may be either.
      const third = (await newest()).backupId;
      ok("restore", await runRunner(["restore", third, "--media-only", "--media-dir", target, "--yes"], env));
      expect(await snapshotTree(target)).toEqual(await snapshotTree(media));

      ok("--rehash", await runRunner(["backup", "--tier", "daily", "--rehash"], pod));
      expect((await newest()).media.store).toMatchObject({ unchangedFiles: 0, uploadedObjects: 0 });
      ok("monthly", await runRunner(["backup", "--tier", "monthly"], pod));
      expect((await newest()).media.store).toMatchObject({ unchangedFiles: 0, uploadedObjects: 0 });
    }
  });

  it("the cache names no file to a bucket reader, and a damaged one is not trusted", async () => {
    const { media } = await makeMedia(6);
    const dest = path.join(work, `dest-${n}`);
    const env = fileEnv(dest, media);
    ok("first", await runRunner(["backup", "--tier", "daily"], env));
    // The stat cache is the set's stat chunks (one segment here): the second chunk a segment names.
    const list = (await filesUnder(dest)).find((f) => f.endsWith("media-segments.txt"))!;
    const cacheFile = path.join(dest, chunkKeysOf(await readFile(list, "utf8"))[1]!);
    const sealed = await readFile(cacheFile);
    for (const name of ["doc-1.pdf", "same-1.txt", "docs"]) {
      expect(sealed.includes(Buffer.from(name))).toBe(false);
      expect(sealed.includes(Buffer.from(Buffer.from(`docs/${name}`).toString("base64").slice(0, 8)))).toBe(false);
    }
    sealed[sealed.length - 20] = sealed[sealed.length - 20]! ^ 0x01;
    await writeFile(cacheFile, sealed);
    // Content changed under the same stat would be invisible to a forged cache; the damaged one
    // is refused, so every file is read and the backup is still right.
    const second = await runRunner(["backup", "--tier", "daily"], { ...env, LOG_LEVEL: "warn" });
    ok("second", second);
    expect(second.stdout).toMatch(/previous stat cache could not be read to the end/);
    const latest = (await manifests(dest)).sort((a, b) => (a.startedAt < b.startedAt ? -1 : 1)).at(-1)!;
    expect(latest.media.store.unchangedFiles).toBe(0);
    const target = path.join(work, `restored-${n}`);
    ok("restore", await runRunner(["restore", "latest", "--media-only", "--media-dir", target, "--yes"], env));
    expect(await snapshotTree(target)).toEqual(await snapshotTree(media));
    // The damaged chunk is named from its content: the second set reused it, so every backup
    // would read every file again. The warning says so and what to do; done, the next one stores it anew.
    const third = ok("third", await runRunner(["backup", "--tier", "daily"], { ...env, LOG_LEVEL: "warn" }));
    expect(third.stdout).toContain("remove it from the store");
    await rm(cacheFile);
    ok("fourth", await runRunner(["backup", "--tier", "daily"], env));
    const fifth = ok("fifth", await runRunner(["backup", "--tier", "daily"], { ...env, LOG_LEVEL: "warn" }));
    expect(fifth.stdout).not.toMatch(/previous stat cache could not be read/);
    expect((await manifests(dest)).at(-1)!.media.store.unchangedFiles).toBe((await filesUnder(media)).length);
  });
});

describe("files: a store-format set's entries", () => {
  it("lists every entry from the index (names as bytes), filters by --path, and needs the identity when encrypted", async () => {
    const { media } = await makeMedia(2);
    const odd = Buffer.concat([Buffer.from(media), Buffer.from("/docs/"), Buffer.from([0x6e, 0x0a, 0xff])]);
    await writeFile(odd, "odd name");
    const dest = path.join(work, `dest-${n}`);
    const env = fileEnv(dest, media, { ENCRYPTION_RECIPIENTS: age.recipient });
    ok("backup", await runRunner(["backup", "--tier", "daily"], env));
    const sealed = await runRunner(["files", "latest"], env);
    expect(sealed.code).toBe(2);
    expect(sealed.stderr).toContain(age.recipient);

    const withKey = { ...env, AGE_IDENTITY_FILE: age.file };
    const all = ok("files", await runRunner(["files", "latest", "--json"], withKey));
    const entries = all.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { path: string; type: string; size?: number });
    const names = entries.map((e) => Buffer.from(e.path, "base64").toString("latin1")).sort();
    expect(names).toEqual(
      ["docs", "docs/doc-0.pdf", "docs/doc-1.pdf", "docs/n\n\xff", "same-1.txt", "same-2.txt"].sort(),
    );
    const docs = ok("files --path", await runRunner(["files", "latest", "--path", "docs/doc-1.pdf"], withKey));
    expect(docs.stdout.trim().split("\n")).toHaveLength(1);
    expect(docs.stdout).toMatch(/^file +0644 +2000 .*"docs\/doc-1\.pdf"$/m);
    const below = ok("files --path folder", await runRunner(["files", "latest", "--path", "docs"], withKey));
    expect(below.stdout.trim().split("\n")).toHaveLength(4);

    const tarDest = path.join(work, `dest-${n}-tar`);
    ok(
      "tar backup",
      await runRunner(["backup", "--tier", "daily"], { ...fileEnv(tarDest, media), MEDIA_FORMAT: "tar" }),
    );
    const tar = await runRunner(["files", "latest"], { ...fileEnv(tarDest, media) });
    expect(tar.code).toBe(2);
    expect(tar.stderr).toMatch(/one tar archive: list it with tar -t/);
  });
});
