// An undo-restore that fails or is stopped half-way (issue 21, items 1 and 4): whatever step it
// fails at, nothing is lost (the pre-restore copy and the restored copy both still exist, under a
// name `status` lists), the live names are back or the rerun finishes them, and the run's one
// message says where each copy is and which command finishes. Real PostgreSQL, real folders, the
// bundled CLI; the media swap fails for a real reason (the media folder is a mount point).
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { run } from "../helpers/exec.js";
import { fileDatabases } from "../helpers/file-databases.js";
import { connectionUrl } from "../helpers/pg-cluster.js";
import { sql, tableChecksums, type TestDatabase } from "../helpers/pg-test-db.js";
import { dailyBackup, runRunner } from "../helpers/runner-cli.js";
import { mediaTreeDigest } from "../helpers/sample-data.js";

const pg = inject("pg");
const { all: databases, create: newDatabase } = fileDatabases(pg);
const asRoot = process.getuid?.() === 0;

let dest: string;
let backupTables: unknown;
let backupMedia: unknown;

beforeAll(async () => {
  const source = await newDatabase("undoint_src");
  await sql(
    source.url,
    "create table docs (id int primary key, v text); insert into docs values (1, 'backup'), (2, 'b')",
  );
  const media = await mkdtemp(path.join(tmpdir(), "edms-undoint-src-"));
  await writeFile(path.join(media, "from-backup.txt"), "backup\n");
  dest = await mkdtemp(path.join(tmpdir(), "edms-undoint-dest-"));
  await dailyBackup({
    DATABASE_URL: source.url,
    MEDIA_DIR: media,
    BACKUP_DESTINATION: `file://${dest}`,
    PG_BIN_DIR: pg.binDir,
  });
  backupTables = await tableChecksums(source.url);
  backupMedia = await mediaTreeDigest(media);
});

export interface Restored {
  db: TestDatabase;
  media: string;
  env: Record<string, string>;
  liveTables: unknown;
  liveMedia: unknown;
}

/** A live database and folder, restored over (keeping the replaced copies). */
async function restored(prefix: string): Promise<Restored> {
  const db = await newDatabase(prefix);
  await sql(db.url, "create table live (id int primary key); insert into live select generate_series(1, 7)");
  const parent = await mkdtemp(path.join(tmpdir(), `edms-${prefix}-`));
  const media = path.join(parent, "media");
  await mkdir(media);
  await writeFile(path.join(media, "live.txt"), "live\n");
  const liveTables = await tableChecksums(db.url);
  const liveMedia = await mediaTreeDigest(media);
  const env = { BACKUP_DESTINATION: `file://${dest}`, DATABASE_URL: db.url, MEDIA_DIR: media, PG_BIN_DIR: pg.binDir };
  const restore = await runRunner(["restore", "latest", "--yes"], env);
  expect(restore.code, restore.stderr).toBe(0);
  expect(await tableChecksums(db.url)).toEqual(backupTables);
  return { db, media, env, liveTables, liveMedia };
}

/** Every database on the server whose name starts like `db`'s (the copies shorten the base). */
async function databasesOf(db: TestDatabase): Promise<string[]> {
  const rows = await sql<{ datname: string }>(connectionUrl(pg, "postgres"), "select datname from pg_database");
  return rows
    .map((r) => r.datname)
    .filter((n) => n === db.name || (n.includes("__edms_") && db.name.startsWith(n.split("__edms_")[0]!)));
}

/** The tables of each of `names`, keyed by name. */
async function contents(names: string[]): Promise<unknown[]> {
  return Promise.all(names.map((n) => tableChecksums(connectionUrl(pg, n))));
}

interface StatusJson {
  keptPrevious: Array<{ database: string | null; media: string | null }>;
  runCopies?: Array<{ kind: string; where: string; name: string }>;
}

async function status(env: Record<string, string>): Promise<{ json: StatusJson; text: string }> {
  const j = await runRunner(["status", "--json"], { ...env, STATUS_TIERS: "daily" });
  const t = await runRunner(["status"], { ...env, STATUS_TIERS: "daily" });
  return { json: JSON.parse(j.stdout) as StatusJson, text: t.stdout };
}

describe.skipIf(!asRoot)("an undo whose media swap fails (issue 21 item 1)", () => {
  it("keeps the pre-restore database, puts the restored one back and says so", async () => {
    const r = await restored("undoint_mnt");
    // A mount point cannot be renamed (EBUSY): what an undo meets when the media folder became a
    // volume after the restore, or when the runner may not rename in its parent.
    const bound = await run("mount", ["--bind", r.media, r.media]);
    expect(bound.code, bound.stderr).toBe(0);
    try {
      const undo = await runRunner(["undo-restore", "--yes"], r.env);
      expect(undo.code).toBe(1);
      expect(undo.stderr).toMatch(/media/);
      // The restored copy is live again, the pre-restore copy is still kept, nothing else exists.
      expect(await tableChecksums(r.db.url)).toEqual(backupTables);
      expect(await mediaTreeDigest(r.media)).toEqual(backupMedia);
      const names = await databasesOf(r.db);
      const kept = names.filter((n) => n.includes("__edms_previous_"));
      expect(kept).toHaveLength(1);
      expect(await contents(kept)).toEqual([r.liveTables]);
      expect(undo.stderr).toContain(`still kept as ${kept[0]}`);
      const { json } = await status(r.env);
      expect(json.keptPrevious.map((k) => k.database)).toEqual(kept);
      // A second attempt, once the folder can be renamed, undoes the restore completely.
      expect((await run("umount", [r.media])).code).toBe(0);
      const again = await runRunner(["undo-restore", "--yes"], r.env);
      expect(again.code, again.stderr).toBe(0);
      expect(await tableChecksums(r.db.url)).toEqual(r.liveTables);
      expect(await mediaTreeDigest(r.media)).toEqual(r.liveMedia);
    } finally {
      await run("umount", [r.media]);
      databases.push(
        ...(await databasesOf(r.db)).map(
          (name) =>
            ({
              name,
              drop: async () =>
                void (await sql(connectionUrl(pg, "postgres"), `drop database if exists "${name}" with (force)`)),
            }) as TestDatabase,
        ),
      );
    }
  });
});
