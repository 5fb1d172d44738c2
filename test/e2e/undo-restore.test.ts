// An undo for restore, with real PostgreSQL and real folders through the bundled CLI: restore over
// a live database and folder that differ from the backup, undo-restore brings back exactly what
// was there (per-table contents, sequences, large objects, every file's bytes), a second undo
// returns to the restored state, status --json lists the kept copies until cleanup, and cleanup
// leaves no kept or staging copy. A restore into a filesystem too small for its staging copy
// refuses before touching anything.
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { fileDatabases } from "../helpers/file-databases.js";
import { connectionUrl } from "../helpers/pg-cluster.js";
import { largeObjectChecksums, sequenceValues, sql, tableChecksums, type TestDatabase } from "../helpers/pg-test-db.js";
import { runRunner } from "../helpers/runner-cli.js";
import { copyDatabaseName, copyFolderName } from "../../runner/src/contract.js";
import { mediaTreeDigest } from "../helpers/sample-data.js";

const pg = inject("pg");
const { all: databases, create: newDatabase } = fileDatabases(pg);
async function fill(url: string, tag: string, rows: number) {
  await sql(
    url,
    `create table docs (id serial primary key, title text, body bytea);
     insert into docs (title, body) select '${tag} ' || g, sha256(('${tag}' || g)::bytea) from generate_series(1, ${rows}) g;
     create sequence counter; select setval('counter', ${rows * 7});
     select lo_from_bytea(0, convert_to(repeat('${tag}', 500), 'UTF8'));`,
  );
}

async function fingerprint(db: TestDatabase, media: string) {
  return {
    tables: await tableChecksums(db.url),
    sequences: await sequenceValues(db.url),
    largeObjects: await largeObjectChecksums(db.url),
    media: await mediaTreeDigest(media),
  };
}

/** Copies of the runner's patterns beside the target database and folder. */
async function copiesOf(db: TestDatabase, media: string) {
  const names = await sql<{ datname: string }>(connectionUrl(pg, "postgres"), "select datname from pg_database");
  // Copy names shorten the base to fit 63 bytes.
  const dbs = names
    .map((r) => r.datname)
    .filter((n) => /__edms_(staging|previous)_/.test(n) && db.name.startsWith(n.split("__edms_")[0]!));
  const beside = (await readdir(path.dirname(media))).filter((n) => n.startsWith(`.${path.basename(media)}.edms-`));
  const inside = (await readdir(media)).filter((n) => n.startsWith(".edms-"));
  return [...dbs, ...beside, ...inside];
}

let source: TestDatabase;
let dest: string;

beforeAll(async () => {
  source = await newDatabase("undosrc");
  await fill(source.url, "backup", 300);
  const media = await mkdtemp(path.join(tmpdir(), "edms-undo-src-"));
  await mkdir(path.join(media, "docs"));
  await writeFile(path.join(media, "docs", "from backup.pdf"), Buffer.alloc(50_000, 1));
  await writeFile(path.join(media, "only-in-backup.txt"), "backup\n");
  dest = await mkdtemp(path.join(tmpdir(), "edms-undo-dest-"));
  const backup = await runRunner(["backup", "--tier", "daily"], {
    BACKUP_DESTINATION: `file://${dest}`,
    DATABASE_URL: source.url,
    MEDIA_DIR: media,
    PG_BIN_DIR: pg.binDir,
  });
  expect(backup.code, backup.stderr).toBe(0);
});

describe("undo-restore", () => {
  it("puts back exactly what the restore replaced, twice, until cleanup", async () => {
    const live = await newDatabase("undolive");
    await fill(live.url, "live", 120);
    const media = await mkdtemp(path.join(tmpdir(), "edms-undo-live-"));
    await mkdir(path.join(media, "docs"));
    await writeFile(path.join(media, "docs", "changed after the backup.pdf"), Buffer.alloc(70_000, 2));
    await writeFile(path.join(media, "live.txt"), "live\n");
    const before = await fingerprint(live, media);
    const env = {
      BACKUP_DESTINATION: `file://${dest}`,
      DATABASE_URL: live.url,
      MEDIA_DIR: media,
      PG_BIN_DIR: pg.binDir,
    };

    const restore = await runRunner(["restore", "latest", "--yes"], env);
    expect(restore.code, restore.stderr).toBe(0);
    const restored = await fingerprint(live, media);
    expect(restored.tables).toEqual(await tableChecksums(source.url));
    expect(restored).not.toEqual(before);

    const status = async () => {
      const r = await runRunner(["status", "--json"], { ...env, STATUS_TIERS: "daily" });
      return (JSON.parse(r.stdout) as { keptPrevious: Array<{ database: string; media: string }> }).keptPrevious;
    };
    const kept = await status();
    expect(kept).toHaveLength(1);
    expect(kept[0]!.database).toMatch(/__edms_previous_\d{8}T\d{6}Z-[0-9a-f]{6}$/);
    expect(live.name.startsWith(kept[0]!.database.split("__edms_")[0]!)).toBe(true);
    expect(kept[0]!.media).toContain(".edms-previous-");

    const undo = await runRunner(["undo-restore", "--yes"], env);
    expect(undo.code, undo.stderr).toBe(0);
    expect(await fingerprint(live, media)).toEqual(before);
    expect(await status()).toHaveLength(1); // the restored copies are kept in turn

    const again = await runRunner(["undo-restore", "--yes"], env);
    expect(again.code, again.stderr).toBe(0);
    expect(await fingerprint(live, media)).toEqual(restored);

    expect((await copiesOf(live, media)).length).toBeGreaterThan(0);
    const cleanup = await runRunner(["cleanup", "--older-than", "0", "--yes"], env);
    expect(cleanup.code, cleanup.stderr).toBe(0);
    expect(await copiesOf(live, media)).toEqual([]);
    expect(await status()).toEqual([]);
    expect(await fingerprint(live, media)).toEqual(restored);
  });

  it("a previous copy no restore recorded (a run killed between its renames) survives cleanup and the next restore", async () => {
    const live = await newDatabase("undoorphan");
    await fill(live.url, "live", 10);
    const media = await mkdtemp(path.join(tmpdir(), "edms-undo-orphan-"));
    await writeFile(path.join(media, "live.txt"), "live\n");
    // What a SIGKILL between the database's two renames leaves: the only copy of the old data,
    // named like a kept copy, long past any keep window, and no marker object.
    const runId = "20200101T000000Z-0dead0";
    const orphanDb = copyDatabaseName("previous", live.name, runId);
    await sql(connectionUrl(pg, "postgres"), `create database "${orphanDb}"`);
    databases.push({
      ...live,
      name: orphanDb,
      drop: async () => void (await sql(connectionUrl(pg, "postgres"), `drop database if exists "${orphanDb}"`)),
    } as TestDatabase);
    const orphanDir = path.join(path.dirname(media), copyFolderName("previous", runId, path.basename(media)));
    await mkdir(orphanDir);
    await writeFile(path.join(orphanDir, "old.txt"), "the old data\n");
    const env = {
      BACKUP_DESTINATION: `file://${dest}`,
      DATABASE_URL: live.url,
      MEDIA_DIR: media,
      PG_BIN_DIR: pg.binDir,
    };
    try {
      const cleanup = await runRunner(["cleanup", "--older-than", "0", "--yes"], env);
      expect(cleanup.code, cleanup.stderr).toBe(0);
      const restore = await runRunner(["restore", "latest", "--yes", "--no-keep-previous"], env);
      expect(restore.code, restore.stderr).toBe(0);
      expect(await copiesOf(live, media)).toEqual(expect.arrayContaining([orphanDb, path.basename(orphanDir)]));
      expect(await readFile(path.join(orphanDir, "old.txt"), "utf8")).toBe("the old data\n");
    } finally {
      await rm(orphanDir, { recursive: true, force: true });
    }
  });

  it("--no-keep-previous drops the replaced copies at once", async () => {
    const live = await newDatabase("undonokeep");
    await fill(live.url, "live", 10);
    const media = await mkdtemp(path.join(tmpdir(), "edms-undo-nokeep-"));
    await writeFile(path.join(media, "live.txt"), "live\n");
    const env = {
      BACKUP_DESTINATION: `file://${dest}`,
      DATABASE_URL: live.url,
      MEDIA_DIR: media,
      PG_BIN_DIR: pg.binDir,
    };
    const restore = await runRunner(["restore", "latest", "--yes", "--no-keep-previous"], env);
    expect(restore.code, restore.stderr).toBe(0);
    expect(await copiesOf(live, media)).toEqual([]);
    const undo = await runRunner(["undo-restore", "--yes"], env);
    expect(undo.code).toBe(1);
    expect(undo.stderr).toContain("no kept copy to put back");
  });
});

// A real small filesystem needs root (mount); CI runs as root. Elsewhere the decision table in
// test/runner/free-space.test.ts covers the rule.
const canMount = process.getuid?.() === 0;
describe.skipIf(!canMount)("free space before staging (tmpfs)", () => {
  it("refuses a restore whose staging copy cannot fit, before any change", async () => {
    const mountPoint = await mkdtemp(path.join(tmpdir(), "edms-undo-tmpfs-"));
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=32k", "tmpfs", mountPoint]);
    try {
      const media = path.join(mountPoint, "media");
      await mkdir(media);
      await writeFile(path.join(media, "live.txt"), "live\n");
      const before = await mediaTreeDigest(media);
      const result = await runRunner(["restore", "latest", "--yes", "--media-only"], {
        BACKUP_DESTINATION: `file://${dest}`,
        MEDIA_DIR: media,
      });
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/not enough space for the staging copy: it needs up to .* only .* are free/);
      expect(await mediaTreeDigest(media)).toEqual(before);
      expect(await readdir(mountPoint)).toEqual(["media"]);
    } finally {
      execFileSync("umount", [mountPoint]);
      await rm(mountPoint, { recursive: true, force: true });
    }
  });
});
