// A backup to S3 and to a folder, then the artifacts restored with the standard tools only:
// the database must come back with every table's rows and content, the media folder with every
// file's bytes, and the manifest must describe both exactly.
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { parseManifest, type Manifest } from "../../runner/src/catalog/manifest.js";
import { decompressZstd, extractArchive, pgRestoreInto } from "../helpers/artifacts.js";
import {
  createTestDatabase,
  largeObjectChecksums,
  sequenceValues,
  tableChecksums,
  type TestDatabase,
} from "../helpers/pg-test-db.js";
import { runRunner } from "../helpers/runner-cli.js";
import { createTestBucket } from "../helpers/s3-bucket.js";
import {
  makeMediaTree,
  mediaTreeDigest,
  MEDIA_BIG_FILE,
  MEDIA_EMPTY_DIR,
  MEDIA_UNICODE_FILE,
  seedEdmsDatabase,
} from "../helpers/sample-data.js";

const pg = inject("pg");
const s3Endpoint = inject("s3Endpoint");

let source: TestDatabase;
let mediaDir: string;
const cleanup: TestDatabase[] = [];

beforeAll(async () => {
  source = await createTestDatabase(pg, "roundtrip_src");
  cleanup.push(source);
  await seedEdmsDatabase(source.url);
  mediaDir = await mkdtemp(path.join(tmpdir(), "edms-media-"));
  await makeMediaTree(mediaDir);
});

afterAll(async () => {
  for (const db of cleanup) await db.drop();
});

/** Restores the stored artifacts with pg_restore and tar and compares them with the source. */
async function expectRestorable(
  manifest: Manifest,
  fetch: (name: string, file: string) => Promise<void>,
): Promise<void> {
  const work = await mkdtemp(path.join(tmpdir(), "edms-artifacts-"));
  const stored = path.join(work, manifest.database!.key);
  await fetch(manifest.database!.key, stored);
  // database.dump.zst (the default zstd:1): `zstd -d`, then pg_restore as for any dump.
  const dump = stored.endsWith(".zst") ? await decompressZstd(stored) : stored;
  const target = await createTestDatabase(pg, "roundtrip_dst");
  cleanup.push(target);
  await pgRestoreInto(pg.binDir, dump, target.env);

  const [before, after] = [await tableChecksums(source.url), await tableChecksums(target.url)];
  expect(after).toEqual(before);
  expect(await largeObjectChecksums(target.url)).toEqual(await largeObjectChecksums(source.url));
  expect(await sequenceValues(target.url)).toEqual(await sequenceValues(source.url));
  // The manifest's counts (taken in the dump's snapshot) match the data.
  const counted = manifest.database!.tables!.map((t) => ({ schema: t.schema, table: t.table, rows: t.rows }));
  expect(counted).toEqual(before.map((t) => ({ schema: t.schema, table: t.table, rows: t.rows })));

  const archive = path.join(work, manifest.media!.key);
  await fetch(manifest.media!.key, archive);
  const extracted = await extractArchive(archive);
  const restoredTree = await mediaTreeDigest(extracted);
  const sourceTree = await mediaTreeDigest(mediaDir);
  expect(restoredTree).toEqual(sourceTree);
  const files = sourceTree.filter((e) => e.type === "file");
  expect(manifest.media!.files).toBe(files.length);
  expect(manifest.media!.sourceBytes).toBe(files.reduce((sum, f) => sum + f.size, 0));
  expect(sourceTree.map((e) => e.path)).toEqual(
    expect.arrayContaining([MEDIA_UNICODE_FILE, MEDIA_EMPTY_DIR, MEDIA_BIG_FILE]),
  );
}

function sha256(buf: Buffer): string {
  return require("node:crypto").createHash("sha256").update(buf).digest("hex") as string;
}

describe("backup round trip", () => {
  it("stores a complete, restorable backup set in S3", async () => {
    const bucket = await createTestBucket(s3Endpoint);
    const result = await runRunner(["backup", "--tier", "daily", "--app-version", "49b0445", "--compression", "gzip"], {
      ...bucket.env("edms"),
      DATABASE_URL: source.url,
      MEDIA_DIR: mediaDir,
      // The tar format, streamed: small parts so the archive (>20 MiB) really goes through a
      // multipart upload, then restored with tar itself. The store's by-hand restore is
      // test/e2e/media-store-by-hand.test.ts's.
      MEDIA_FORMAT: "tar",
      S3_PART_SIZE_MIB: "5",
    });
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);

    const keys = await bucket.keys();
    expect(keys).toHaveLength(3);
    const setPrefix = keys[0]!.replace(/[^/]+$/, "");
    expect(setPrefix).toMatch(/^edms\/daily\/\d{8}T\d{6}Z-[0-9a-f]{4}\/$/);
    expect(keys).toEqual([`${setPrefix}database.dump.zst`, `${setPrefix}manifest.json`, `${setPrefix}storage.tar.gz`]);
    expect(await bucket.unfinishedUploads()).toEqual([]);

    const manifest = parseManifest((await bucket.get(`${setPrefix}manifest.json`)).toString("utf8"), "test");
    expect(manifest).toMatchObject({ tier: "daily", trigger: "manual", appVersion: "49b0445", formatVersion: 3 });
    for (const entry of [manifest.database!, manifest.media!]) {
      const stored = await bucket.get(`${setPrefix}${entry.key}`);
      expect(stored.length).toBe(entry.bytes);
      expect(sha256(stored)).toBe(entry.sha256);
    }
    // The password never reaches the logs or the manifest.
    expect(result.stdout).not.toContain(pg.password);
    expect(JSON.stringify(manifest)).not.toContain(pg.password);
    // Structured logs carry the run's identity.
    const done = result.logs.find((l) => l.stage === "done");
    expect(done).toMatchObject({ backupId: manifest.backupId, tier: "daily" });

    await expectRestorable(manifest, (name, file) => bucket.download(`${setPrefix}${name}`, file));

    // The runner's own read side works against the bucket too: list, verify and a drill.
    const env = { ...bucket.env("edms"), DATABASE_URL: source.url };
    const list = await runRunner(["list", "--json"], env);
    expect(JSON.parse(list.stdout)).toMatchObject([{ backupId: manifest.backupId, tier: "daily", complete: true }]);
    const verify = await runRunner(["verify", "latest"], env);
    expect(verify.code, verify.stderr).toBe(0);
    const drill = await runRunner(["drill", "latest", "--json"], env);
    expect(drill.code, drill.stderr).toBe(0);
    expect(JSON.parse(drill.stdout)).toMatchObject({ ok: true, backupId: manifest.backupId });
    // Reading never writes to a set: the bucket holds exactly the set's objects, and the drill
    // its one record (drills/<id>.json, what status and the drill alarm read).
    const after = await bucket.keys();
    expect(after.filter((k) => !k.startsWith("edms/drills/"))).toEqual(keys);
    expect(after.filter((k) => k.startsWith("edms/drills/"))).toHaveLength(1);
  });

  it("stores a complete, restorable backup set in a local folder (libpq variables, zstd)", async () => {
    const dest = await mkdtemp(path.join(tmpdir(), "edms-dest-"));
    const result = await runRunner(["backup", "--tier", "weekly", "--compression", "zstd"], {
      ...source.env,
      BACKUP_DESTINATION: `file://${dest}`,
      MEDIA_DIR: mediaDir,
      MEDIA_FORMAT: "tar",
      BACKUP_TRIGGER: "schedule",
    });
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const id = result.logs.find((l) => l.stage === "done")!.backupId as string;
    const setDir = path.join(dest, "weekly", id);
    const manifest = parseManifest(await readFile(path.join(setDir, "manifest.json"), "utf8"), "test");
    expect(manifest.media!.key).toBe("storage.tar.zst");
    expect(manifest.trigger).toBe("schedule");
    expect(sha256(await readFile(path.join(setDir, manifest.database!.key)))).toBe(manifest.database!.sha256);
    await expectRestorable(manifest, async (name, file) => {
      const { copyFile } = await import("node:fs/promises");
      await copyFile(path.join(setDir, name), file);
    });
  });
});
