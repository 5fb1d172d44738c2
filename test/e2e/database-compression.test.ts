// The database dump compressed with zstd (PG_DUMP_COMPRESSION=zstd:N: pg_dump -Z0 | zstd into
// database.dump.zst) judged from the outside: the standard tools restore it (`zstd -d |
// pg_restore`, with `age -d` first when encrypted), the runner's restore, verify and drill give
// the same data, a damaged object is refused with the target untouched, and sets written the old
// way (database.dump, manifest format 2) keep verifying, restoring and drilling.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, readdir, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { fileDatabases } from "../helpers/file-databases.js";
import { parseManifest, type Manifest } from "../../runner/src/catalog/manifest.js";
import { run, sh } from "../helpers/exec.js";
import { makeLiveTarget, type LiveTarget } from "../helpers/live-target.js";
import { largeObjectChecksums, sequenceValues, sql, tableChecksums, type TestDatabase } from "../helpers/pg-test-db.js";
import { runRunner } from "../helpers/runner-cli.js";
import { createTestBucket } from "../helpers/s3-bucket.js";
import { makeMediaTree, mediaTreeDigest, seedEdmsDatabase } from "../helpers/sample-data.js";

const pg = inject("pg");
const s3Endpoint = inject("s3Endpoint");
const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);

let source: TestDatabase;
let mediaDir: string;
let work: string;
const { create: newDatabase } = fileDatabases(pg);

const liveTarget = (): Promise<LiveTarget> => makeLiveTarget(newDatabase, "zdump-live");

async function expectSameDatabase(url: string): Promise<void> {
  expect(await tableChecksums(url)).toEqual(await tableChecksums(source.url));
  expect(await largeObjectChecksums(url)).toEqual(await largeObjectChecksums(source.url));
  expect(await sequenceValues(url)).toEqual(await sequenceValues(source.url));
}

/** A backup into a new folder; returns the folder, the set's folder and its manifest. */
async function backupTo(
  env: Record<string, string>,
  args: string[] = [],
): Promise<{ root: string; id: string; dir: string; manifest: Manifest }> {
  const root = await mkdtemp(path.join(tmpdir(), "edms-zdump-dest-"));
  const backup = await runRunner(["backup", "--tier", "daily", ...args], {
    DATABASE_URL: source.url,
    MEDIA_DIR: mediaDir,
    BACKUP_DESTINATION: `file://${root}`,
    // About the dump: the media as one tar archive keeps each set's listing to four names.
    MEDIA_FORMAT: "tar",
    ...env,
  });
  expect(backup.code, backup.stderr).toBe(0);
  const id = backup.logs.find((l) => l.stage === "done")!.backupId as string;
  const dir = path.join(root, "daily", id);
  return { root, id, dir, manifest: parseManifest(await readFile(path.join(dir, "manifest.json"), "utf8"), "test") };
}

function sha256(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

/** The runner's restore (over a live target), verify and drill of one set; all must pass. */
async function expectRunnerRestores(root: string, id: string, env: Record<string, string> = {}): Promise<void> {
  const dest = { BACKUP_DESTINATION: `file://${root}`, ...env };
  const verify = await runRunner(["verify", id], dest);
  expect(verify.code, verify.stderr).toBe(0);
  const live = await liveTarget();
  const restore = await runRunner(["restore", id, "--yes", "--target-db", live.db.name, "--media-dir", live.media], {
    DATABASE_URL: source.url,
    ...dest,
  });
  expect(restore.code, restore.stderr).toBe(0);
  await expectSameDatabase(live.db.url);
  expect(await mediaTreeDigest(live.media)).toEqual(await mediaTreeDigest(mediaDir));
  const drill = await runRunner(["drill", id, "--json"], { DATABASE_URL: source.url, ...dest });
  expect(drill.code, drill.stderr).toBe(0);
  expect(JSON.parse(drill.stdout)).toMatchObject({ ok: true, backupId: id });
}

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), "edms-zdump-"));
  source = await newDatabase("zdump_src");
  await seedEdmsDatabase(source.url);
  mediaDir = await mkdtemp(path.join(tmpdir(), "edms-zdump-media-"));
  await makeMediaTree(mediaDir, { bigFileMiB: 1 });
});

describe("PG_DUMP_COMPRESSION=zstd:N", { timeout: 240_000 }, () => {
  it("stores database.dump.zst, records it in the manifest, and restores with zstd -d | pg_restore and with the runner", async () => {
    const { root, id, dir, manifest } = await backupTo({ PG_DUMP_COMPRESSION: "zstd:3" });
    expect((await readdir(dir)).sort()).toEqual(["database.dump.zst", "manifest.json", "storage.tar.zst"]);
    expect(manifest.formatVersion).toBe(3);
    expect(manifest.database).toMatchObject({
      key: "database.dump.zst",
      format: "custom",
      compression: "zstd:3",
      pgRestoreMin: Number.parseInt(manifest.database!.pgDumpVersion, 10),
    });
    const stored = await readFile(path.join(dir, "database.dump.zst"));
    expect(stored.subarray(0, 4).equals(ZSTD_MAGIC)).toBe(true);
    expect(stored.length).toBe(manifest.database!.bytes);
    expect(sha256(stored)).toBe(manifest.database!.sha256);
    // Inside the frame: an uncompressed custom-format dump (pg_dump -Z0), readable by any pg_restore.
    const plain = path.join(work, "plain.dump");
    await sh(`zstd -q -d < "${dir}/database.dump.zst" > "${plain}"`);
    expect((await readFile(plain)).subarray(0, 5).toString("latin1")).toBe("PGDMP");
    expect(await sh(`"${pg.binDir}/pg_restore" --list "${plain}"`)).toMatch(/Compression: 0/);

    // The standard tools alone, as docs/RUNBOOK.md says.
    const byHand = await newDatabase("zdump_byhand");
    await sh(
      `zstd -d < "${dir}/database.dump.zst" | "${pg.binDir}/pg_restore" --no-owner --exit-on-error --dbname "${byHand.name}"`,
      byHand.env,
    );
    await expectSameDatabase(byHand.url);

    await expectRunnerRestores(root, id);
  });

  it("encrypted: database.dump.zst.age, restored by age -d | zstd -d | pg_restore and by the runner", async () => {
    const key = path.join(work, "key.txt");
    await sh(`age-keygen -o "${key}" 2>/dev/null`);
    const recipient = (await sh(`age-keygen -y "${key}"`)).trim();
    const { root, id, dir, manifest } = await backupTo({ PG_DUMP_COMPRESSION: "zstd:1" }, ["--encrypt-to", recipient]);
    expect((await readdir(dir)).sort()).toEqual([
      "database.dump.zst.age",
      "manifest.json",
      "names.json.age",
      "storage.tar.zst.age",
    ]);
    expect(manifest.database).toMatchObject({ key: "database.dump.zst.age", compression: "zstd:1" });
    const byHand = await newDatabase("zdump_age_byhand");
    await sh(
      `age -d -i "${key}" "${dir}/database.dump.zst.age" | zstd -d | "${pg.binDir}/pg_restore" --no-owner --exit-on-error --dbname "${byHand.name}"`,
      byHand.env,
    );
    await expectSameDatabase(byHand.url);
    await expectRunnerRestores(root, id, { AGE_IDENTITY_FILE: key });
  });

  it("to S3 (moto): the dump object is a zstd frame and the runner restores it", async () => {
    const bucket = await createTestBucket(s3Endpoint);
    const backup = await runRunner(["backup", "--tier", "weekly", "--no-media"], {
      ...bucket.env("edms"),
      DATABASE_URL: source.url,
      PG_DUMP_COMPRESSION: "zstd:1",
    });
    expect(backup.code, backup.stderr).toBe(0);
    const keys = await bucket.keys();
    expect(keys.map((k) => k.replace(/^.*\//, "")).sort()).toEqual(["database.dump.zst", "manifest.json"]);
    const object = path.join(work, "from-s3.dump.zst");
    await bucket.download(
      keys.find((k) => k.endsWith(".zst"))!,
      object,
    );
    const byHand = await newDatabase("zdump_s3_byhand");
    await sh(
      `zstd -d < "${object}" | "${pg.binDir}/pg_restore" --no-owner --exit-on-error -d "${byHand.name}"`,
      byHand.env,
    );
    await expectSameDatabase(byHand.url);
    const target = await newDatabase("zdump_s3_restored");
    const restore = await runRunner(["restore", "latest", "--tier", "weekly", "--yes", "--target-db", target.name], {
      ...bucket.env("edms"),
      DATABASE_URL: source.url,
    });
    expect(restore.code, restore.stderr).toBe(0);
    await expectSameDatabase(target.url);
  });

  it("gzip:N and none stay pg_dump's own compression in database.dump", async () => {
    for (const [spec, header] of [
      ["gzip:9", /Compression: 9/],
      ["none", /Compression: 0/],
    ] as const) {
      const { dir, manifest } = await backupTo({ PG_DUMP_COMPRESSION: spec }, ["--no-media"]);
      expect(manifest.database).toMatchObject({ key: "database.dump", compression: spec });
      expect(await sh(`"${pg.binDir}/pg_restore" --list "${dir}/database.dump"`)).toMatch(header);
    }
  });
});

describe("damaged zstd dumps are refused, touching nothing", { timeout: 240_000 }, () => {
  let root: string;
  let id: string;
  beforeAll(async () => {
    ({ root, id } = await backupTo({ PG_DUMP_COMPRESSION: "zstd:1" }, ["--no-media"]));
  });

  async function expectRefused(where: string, pattern: RegExp): Promise<void> {
    const verify = await runRunner(["verify", id], { BACKUP_DESTINATION: `file://${where}` });
    expect(verify.code).toBe(1);
    expect(verify.stderr).toMatch(pattern);
    const live = await liveTarget();
    const before = await live.fingerprint();
    const restore = await runRunner(["restore", id, "--yes", "--database-only", "--target-db", live.db.name], {
      DATABASE_URL: source.url,
      BACKUP_DESTINATION: `file://${where}`,
    });
    expect(restore.code).toBe(1);
    expect(restore.stderr).toMatch(pattern);
    expect(await live.fingerprint()).toEqual(before);
  }

  async function copyOfSet(): Promise<{ copy: string; copyDir: string }> {
    const copy = await mkdtemp(path.join(tmpdir(), "edms-zdump-bad-"));
    expect((await run("cp", ["-a", path.join(root, "daily"), copy])).code).toBe(0);
    return { copy, copyDir: path.join(copy, "daily", id) };
  }

  it("a flipped byte: refused by the checksum", async () => {
    const { copy, copyDir } = await copyOfSet();
    const file = path.join(copyDir, "database.dump.zst");
    const bytes = await readFile(file);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    await writeFile(file, bytes);
    await expectRefused(copy, /database\.dump\.zst: sha256 [0-9a-f]{64} does not match the manifest/);
  });

  // The restore joins zstd -d and pg_restore by an OS pipe, fed with the stored bytes the runner
  // hashes: here zstd and pg_restore both accept the damaged object (one row changed, a valid
  // frame, the same size), so only the checksum stands between it and the live database.
  it("a changed row in a valid frame of the same size: zstd and pg_restore accept it, the checksum refuses it", async () => {
    const { copy, copyDir } = await copyOfSet();
    const file = path.join(copyDir, "database.dump.zst");
    const stored = await readFile(file);
    const dump = execFileSync("zstd", ["-q", "-d", "-c", file], { maxBuffer: 1 << 30 });
    const row = Buffer.from("user1@example.org\t");
    const at = dump.indexOf(row);
    expect(at).toBeGreaterThan(0);
    dump.write("user1@example.orx", at, "latin1");
    // A better compression level makes it shorter; a skippable frame (which zstd -d skips) pads it
    // to the stored size, so the size check passes too.
    const reframed = execFileSync("zstd", ["-q", "-c", "-19"], { input: dump, maxBuffer: 1 << 30 });
    const pad = stored.length - reframed.length;
    expect(pad).toBeGreaterThanOrEqual(8);
    const skippable = Buffer.alloc(pad);
    skippable.writeUInt32LE(0x184d2a50, 0);
    skippable.writeUInt32LE(pad - 8, 4);
    const forged = Buffer.concat([reframed, skippable]);
    expect(forged.length).toBe(stored.length);
    await writeFile(file, forged);
    await expectRefused(copy, /database\.dump\.zst: sha256 [0-9a-f]{64} does not match the manifest/);

    // With the manifest's checksum forged too, the same object restores: the tools could not tell.
    const manifestFile = path.join(copyDir, "manifest.json");
    const m = JSON.parse(await readFile(manifestFile, "utf8"));
    m.database.sha256 = sha256(forged);
    await writeFile(manifestFile, JSON.stringify(m));
    const live = await liveTarget();
    const restore = await runRunner(["restore", id, "--yes", "--database-only", "--target-db", live.db.name], {
      DATABASE_URL: source.url,
      BACKUP_DESTINATION: `file://${copy}`,
    });
    expect(restore.code, restore.stderr).toBe(0);
    expect(await sql(live.db.url, "select email from auth_user where id = 1")).toEqual([
      { email: "user1@example.orx" },
    ]);
  });

  it("a truncated frame with the manifest forged to match: refused by zstd", async () => {
    const { copy, copyDir } = await copyOfSet();
    const file = path.join(copyDir, "database.dump.zst");
    const full = await readFile(file);
    await truncate(file, Math.floor(full.length * 0.7));
    const cut = await readFile(file);
    const manifestFile = path.join(copyDir, "manifest.json");
    const m = JSON.parse(await readFile(manifestFile, "utf8"));
    m.database.bytes = cut.length;
    m.database.sha256 = sha256(cut);
    await writeFile(manifestFile, JSON.stringify(m));
    await expectRefused(copy, /zstd --decompress exited with code 1: .*(truncated|premature end|Read error)/i);
  });
});

describe("sets written the old way keep working", { timeout: 240_000 }, () => {
  it("a format-2 set (database.dump, pg_dump's own compression, no compression field) verifies, restores and drills", async () => {
    const { root, id, dir } = await backupTo({ PG_DUMP_COMPRESSION: "6" });
    const file = path.join(dir, "manifest.json");
    const v3 = JSON.parse(await readFile(file, "utf8"));
    expect(v3.database).toMatchObject({ key: "database.dump", compression: "gzip:6" });
    // Exactly what a format-2 runner wrote: no compression, no pgRestoreMin.
    const { compression: _c, pgRestoreMin: _p, ...database } = v3.database;
    await writeFile(file, JSON.stringify({ ...v3, formatVersion: 2, database }, null, 2));
    await expectRunnerRestores(root, id);
  });

  it("a format-3 manifest without the dump's compression is refused as malformed", async () => {
    const { root, id, dir } = await backupTo({ PG_DUMP_COMPRESSION: "zstd:1" }, ["--no-media"]);
    const file = path.join(dir, "manifest.json");
    const v3 = JSON.parse(await readFile(file, "utf8"));
    const { compression: _c, ...database } = v3.database;
    await writeFile(file, JSON.stringify({ ...v3, database }, null, 2));
    const verify = await runRunner(["verify", id], { BACKUP_DESTINATION: `file://${root}` });
    expect(verify.code).not.toBe(0);
    expect(verify.stderr).toMatch(/database\.compression: required in format 3/);
  });
});
