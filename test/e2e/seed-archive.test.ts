// Today's archives (backup-hybrid.sh): built here with the real pg_dump and tar the way the seed's
// script does, then restored directly and imported as a backup set.
import { mkdir, mkdtemp, readFile, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { run } from "../helpers/exec.js";
import { connectionUrl } from "../helpers/pg-cluster.js";
import { createTestDatabase, sql, tableChecksums, type TestDatabase } from "../helpers/pg-test-db.js";
import { runRunner } from "../helpers/runner-cli.js";
import { makeMediaTree, mediaTreeDigest, seedEdmsDatabase } from "../helpers/sample-data.js";

const pg = inject("pg");
let source: TestDatabase;
let mediaDir: string;
let archive: string;

/** What backup-hybrid.sh produces: backups/backup_<stamp>.tar.gz with tmp_<stamp>/{database.dump,storage.tar.gz,manifest.json}. */
async function hybridArchive(): Promise<string> {
  const work = await mkdtemp(path.join(tmpdir(), "edms-hybrid-"));
  const stamp = "20260111_224748";
  const tmp = path.join(work, `tmp_${stamp}`);
  await mkdir(tmp);
  await mkdir(path.join(work, "backups"));
  const dump = await run(path.join(pg.binDir, "pg_dump"), ["-Fc", "-f", path.join(tmp, "database.dump"), source.name], {
    env: { ...process.env, ...source.env },
  });
  expect(dump.code, dump.stderr).toBe(0);
  const media = await run("tar", ["czf", path.join(tmp, "storage.tar.gz"), "-C", mediaDir, "."]);
  expect(media.code, media.stderr).toBe(0);
  await writeFile(
    path.join(tmp, "manifest.json"),
    JSON.stringify(
      {
        timestamp: "2026-01-11T22:47:48+08:00",
        database: "database.dump",
        storage: "storage.tar.gz",
        version: "49b0445578f2227b4244c57e92a2c3b5caaeb742",
        backup_type: "full",
        created_by: "backup-hybrid.sh",
      },
      null,
      4,
    ),
  );
  const file = path.join(work, "backups", `backup_${stamp}.tar.gz`);
  const bundle = await run("tar", ["czf", file, "-C", work, `tmp_${stamp}`]);
  expect(bundle.code, bundle.stderr).toBe(0);
  return file;
}

beforeAll(async () => {
  source = await createTestDatabase(pg, "hybrid_src");
  await seedEdmsDatabase(source.url, { documents: 300 });
  mediaDir = await mkdtemp(path.join(tmpdir(), "edms-media-"));
  await makeMediaTree(mediaDir, { bigFileMiB: 1 });
  archive = await hybridArchive();
});

afterAll(async () => {
  await source.drop();
});

describe("backup-hybrid.sh archives", () => {
  it("restore --from-archive brings back the database and media identically", async () => {
    const target = `hybrid_${Date.now().toString(36)}`;
    const restoredMedia = path.join(await mkdtemp(path.join(tmpdir(), "edms-hybrid-media-")), "media");
    const result = await runRunner(
      ["restore", "--from-archive", archive, "--yes", "--target-db", target, "--media-dir", restoredMedia],
      {
        DATABASE_URL: source.url,
      },
    );
    expect(result.code, result.stderr).toBe(0);
    const url = connectionUrl(pg, target);
    expect(await tableChecksums(url)).toEqual(await tableChecksums(source.url));
    expect(await mediaTreeDigest(restoredMedia)).toEqual(await mediaTreeDigest(mediaDir));
    await sql(connectionUrl(pg, "postgres"), `drop database "${target}" with (force)`);
  });

  it("import stores it as a complete backup set that verifies and drills", async () => {
    const dest = await mkdtemp(path.join(tmpdir(), "edms-import-"));
    const env = { BACKUP_DESTINATION: `file://${dest}`, DATABASE_URL: source.url };
    const imported = await runRunner(["import", archive], env);
    expect(imported.code, imported.stderr).toBe(0);
    const list = await runRunner(["list", "--json"], env);
    const sets = JSON.parse(list.stdout) as Array<{
      backupId: string;
      tier: string;
      complete: boolean;
      appVersion: string;
    }>;
    expect(sets).toHaveLength(1);
    expect(sets[0]).toMatchObject({
      tier: "adhoc",
      complete: true,
      appVersion: "49b0445578f2227b4244c57e92a2c3b5caaeb742",
    });
    // The archive's time (22:47:48 +08:00) becomes the id's UTC time.
    expect(sets[0]!.backupId).toMatch(/^20260111T144748Z-[0-9a-f]{4}$/);
    const verify = await runRunner(["verify", "latest", "--tier", "adhoc"], env);
    expect(verify.code, verify.stderr).toBe(0);
    // An import is an ad-hoc set: `latest` takes it only with --tier adhoc (or by its id).
    const drill = await runRunner(["drill", "--tier", "adhoc", "--json"], env);
    expect(drill.code, drill.stderr).toBe(0);
    expect(JSON.parse(drill.stdout)).toMatchObject({ ok: true });
  });

  it("import --encrypt-to stores only age ciphertext, which restores with the identity", async () => {
    const dest = await mkdtemp(path.join(tmpdir(), "edms-import-age-"));
    const keyFile = path.join(dest, "..", `${path.basename(dest)}.key`);
    expect((await run("age-keygen", ["-o", keyFile])).code).toBe(0);
    const recipient = (await run("age-keygen", ["-y", keyFile])).stdout.trim();
    const env = { BACKUP_DESTINATION: `file://${dest}`, DATABASE_URL: source.url };
    const imported = await runRunner(["import", archive, "--encrypt-to", recipient], env);
    expect(imported.code, imported.stderr).toBe(0);
    const [id] = await readdir(path.join(dest, "adhoc"));
    const setDir = path.join(dest, "adhoc", id!);
    expect((await readdir(setDir)).sort()).toEqual([
      "database.dump.age",
      "manifest.json",
      "names.json.age",
      "storage.tar.gz.age",
    ]);
    for (const name of ["database.dump.age", "names.json.age", "storage.tar.gz.age"])
      expect((await readFile(path.join(setDir, name))).subarray(0, 21).toString()).toBe("age-encryption.org/v1");
    const noIdentity = await runRunner(["drill", "--tier", "adhoc"], env);
    expect(noIdentity.code).toBe(2);
    const target = `hybrid_age_${Date.now().toString(36)}`;
    const restoredMedia = path.join(await mkdtemp(path.join(tmpdir(), "edms-hybrid-age-media-")), "media");
    const restore = await runRunner(
      ["restore", "latest", "--tier", "adhoc", "--yes", "--target-db", target, "--media-dir", restoredMedia],
      { ...env, AGE_IDENTITY_FILE: keyFile },
    );
    expect(restore.code, restore.stderr).toBe(0);
    expect(await tableChecksums(connectionUrl(pg, target))).toEqual(await tableChecksums(source.url));
    expect(await mediaTreeDigest(restoredMedia)).toEqual(await mediaTreeDigest(mediaDir));
    await sql(connectionUrl(pg, "postgres"), `drop database "${target}" with (force)`);
  });

  it("refuses a file that is not such an archive", async () => {
    const bogus = path.join(await mkdtemp(path.join(tmpdir(), "edms-bogus-")), "backup_x.tar.gz");
    await writeFile(bogus, "not an archive");
    const result = await runRunner(["restore", "--from-archive", bogus, "--yes", "--target-db", "never_created"], {
      DATABASE_URL: source.url,
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/is not a readable \.tar\.gz archive/);
    expect(
      await sql(connectionUrl(pg, "postgres"), "select 1 from pg_database where datname = 'never_created'"),
    ).toEqual([]);
  });
});
