// Staging copies of runs that never finished (issue 10, item 12): a restore killed with SIGKILL
// leaves its staging database and folder; `status` lists them, the next restore removes them, and
// only them: copies a live run holds, previous copies and other names stay. Backups never archive
// the runner's own copies.
import { mkdir, mkdtemp, readdir, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pgLib from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newRunId } from "../../runner/src/catalog/backup-id.js";
import type { StatusReport } from "../../runner/src/commands/status.js";
import { COPY_DATABASE_RE, copyDatabaseName, copyFolderName } from "../../runner/src/contract.js";
import { holdRun, HOLDER_SUFFIX } from "../../runner/src/restore/run-copies.js";
import { run } from "../helpers/exec.js";
import { connectionUrl, startPgCluster, type PgCluster } from "../helpers/pg-cluster.js";
import { createTestDatabase, sql, tableChecksums, type TestDatabase } from "../helpers/pg-test-db.js";
import { dailyBackup, runRunner, startRunner } from "../helpers/runner-cli.js";
import { mediaTreeDigest } from "../helpers/sample-data.js";

// A server of its own: every restore and drill sweeps the unheld staging databases of the whole
// server, so other test files' runs would (rightly) remove the copies this file examines.
let pg: PgCluster;
let admin: string;
const databases: TestDatabase[] = [];
let source: TestDatabase;
let media: string;
let dest: string;

async function newDatabase(prefix: string): Promise<TestDatabase> {
  const db = await createTestDatabase(pg, prefix);
  databases.push(db);
  return db;
}

/** Staging and previous databases made for `target` (whose name the runner may have shortened). */
async function databasesLike(target: string): Promise<string[]> {
  const rows = await sql<{ datname: string }>(admin, "select datname from pg_database");
  return rows
    .map((r) => r.datname)
    .filter((name) => {
      const m = COPY_DATABASE_RE.staging.exec(name) ?? COPY_DATABASE_RE.previous.exec(name);
      return m !== null && target.startsWith(m.groups!.base!);
    })
    .sort();
}

const copiesIn = async (dir: string) => (await readdir(dir)).filter((n) => /edms-(staging|previous)-/.test(n)).sort();

beforeAll(async () => {
  pg = await startPgCluster();
  admin = connectionUrl(pg, "postgres");
  source = await newDatabase("stale_src");
  // Big enough that the restore is still in pg_restore when it is killed.
  const init = await run(path.join(pg.binDir, "pgbench"), ["-i", "-s", "5", "-q", source.name], {
    env: { ...process.env, ...source.env },
  });
  expect(init.code, init.stderr).toBe(0);
  media = await mkdtemp(path.join(tmpdir(), "edms-stale-media-"));
  await writeFile(path.join(media, "a.txt"), "from the backup\n");
  dest = await mkdtemp(path.join(tmpdir(), "edms-stale-dest-"));
  await dailyBackup({ DATABASE_URL: source.url, MEDIA_DIR: media, BACKUP_DESTINATION: `file://${dest}` });
});

afterAll(async () => {
  await pg?.stop();
});

async function liveTarget(name: string) {
  const db = await newDatabase(name);
  await sql(db.url, "create table keep_me (id int); insert into keep_me values (1)");
  const parent = await mkdtemp(path.join(tmpdir(), "edms-stale-live-"));
  const target = path.join(parent, "media");
  await mkdir(target);
  await writeFile(path.join(target, "live.txt"), "live\n");
  return { db, parent, target };
}

describe("a restore killed with SIGKILL", () => {
  it("leaves staging copies that status lists and the next restore removes", async () => {
    const live = await liveTarget("stale_killed");
    const before = { db: await tableChecksums(live.db.url), media: await mediaTreeDigest(live.target) };
    const env = { DATABASE_URL: source.url, BACKUP_DESTINATION: `file://${dest}` };
    const args = ["restore", "latest", "--yes", "--target-db", live.db.name, "--media-dir", live.target];
    const runner = await startRunner(args, env);
    for (let i = 0; i < 400 && (await databasesLike(live.db.name)).length === 0; i++)
      await new Promise((r) => setTimeout(r, 25));
    runner.child.kill("SIGKILL");
    expect((await runner.result).signal).toBe("SIGKILL");

    const stagingDb = (await databasesLike(live.db.name))[0]!;
    expect(stagingDb).toMatch(/__edms_staging_\d{8}T\d{6}Z-[0-9a-f]{6}$/);
    const stagingDir = (await copiesIn(live.parent))[0]!;
    expect(stagingDir).toMatch(/^\.media\.edms-staging-\d{8}T\d{6}Z-[0-9a-f]{6}$/);
    expect(await tableChecksums(live.db.url)).toEqual(before.db);
    expect(await mediaTreeDigest(live.target)).toEqual(before.media);

    const statusEnv = { ...env, DATABASE_URL: live.db.url, MEDIA_DIR: live.target, STATUS_TIERS: "daily" };
    // The killed run's session ends with it; the server may take a moment to notice.
    let report: StatusReport | undefined;
    for (let i = 0; i < 40; i++) {
      report = JSON.parse((await runRunner(["status", "--json"], statusEnv)).stdout) as StatusReport;
      if (report.runCopies?.every((c) => !c.held)) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const mine = report!.runCopies!.filter((c) => c.name === stagingDb || c.name.endsWith(`/${stagingDir}`));
    expect(mine.map((c) => [c.where, c.kind, c.held]).sort()).toEqual([
      ["database", "staging", false],
      ["folder", "staging", false],
    ]);
    const table = await runRunner(["status"], statusEnv);
    expect(table.stdout).toContain(`LEFT BEHIND: staging database ${stagingDb}`);

    const again = await runRunner(args, env);
    expect(again.code, again.stderr).toBe(0);
    const swept = again.logs.filter((l) => l.stage === "sweep").map((l) => String(l.copy));
    expect(swept).toEqual(expect.arrayContaining([stagingDb, path.join(live.parent, stagingDir)]));
    // What is left is exactly what this restore kept for an undo, and status calls it that.
    const kept = again.logs.find((l) => l.stage === "done")!.kept as { database: string; media: string };
    expect(await databasesLike(live.db.name)).toEqual([kept.database]);
    expect((await copiesIn(live.parent)).map((n) => path.join(live.parent, n))).toEqual([kept.media]);
    expect(await tableChecksums(live.db.url)).toEqual(await tableChecksums(source.url));
    const after = await runRunner(["status"], statusEnv);
    expect(after.stdout).toContain(`KEPT: database ${kept.database}, folder ${kept.media}`);
    expect(after.stdout).not.toContain("LEFT BEHIND");
  });
});

describe("the sweep", () => {
  it("removes only unheld staging copies of its own naming pattern", async () => {
    const live = await liveTarget("stale_held");
    const id = (minutesAgo: number) => newRunId(new Date(Date.now() - minutesAgo * 60_000));
    const [heldDb, staleDb] = [id(30), id(31)];
    await sql(admin, `create database "${copyDatabaseName("staging", live.db.name, heldDb)}"`);
    await sql(admin, `create database "${copyDatabaseName("staging", live.db.name, staleDb)}"`);
    const locker = new pgLib.Client({ connectionString: admin });
    await locker.connect();
    await locker.query("select pg_advisory_lock(hashtextextended($1, 0))", [`edms-run:${heldDb}`]);

    const folder = (kind: "staging" | "previous", runId: string, base = "media") =>
      path.join(live.parent, copyFolderName(kind, runId, base));
    const [thisProcess, otherHostFresh, otherHostOld, noHolder, previous, otherFolder] = [1, 2, 3, 4, 5, 6].map(id);
    for (const dir of [
      folder("staging", thisProcess!),
      folder("staging", otherHostFresh!),
      folder("staging", otherHostOld!),
      folder("staging", noHolder!),
      folder("previous", previous!),
      folder("staging", otherFolder!, "other"),
      path.join(live.parent, "notes.edms-staging-by-a-user"),
    ])
      await mkdir(dir);
    const heldHere = await holdRun(thisProcess!, { folders: [folder("staging", thisProcess!)] });
    const elsewhere = (runId: string) =>
      JSON.stringify({ runId, host: "another-pod", bootId: "x", pid: 1, pidStart: "1" });
    await writeFile(`${folder("staging", otherHostFresh!)}${HOLDER_SUFFIX}`, elsewhere(otherHostFresh!));
    await writeFile(`${folder("staging", otherHostOld!)}${HOLDER_SUFFIX}`, elsewhere(otherHostOld!));
    const old = new Date(Date.now() - 20 * 60_000);
    await utimes(`${folder("staging", otherHostOld!)}${HOLDER_SUFFIX}`, old, old);

    try {
      // Without keeping: this restore's own kept copies are undo-restore.test.ts's subject.
      const result = await runRunner(
        ["restore", "latest", "--yes", "--no-keep-previous", "--target-db", live.db.name, "--media-dir", live.target],
        { DATABASE_URL: source.url, BACKUP_DESTINATION: `file://${dest}` },
      );
      expect(result.code, result.stderr).toBe(0);
      expect(await databasesLike(live.db.name)).toEqual([copyDatabaseName("staging", live.db.name, heldDb)]);
      const left = await readdir(live.parent);
      expect(left).toEqual(
        expect.arrayContaining([
          path.basename(folder("staging", thisProcess!)),
          path.basename(folder("staging", otherHostFresh!)),
          path.basename(folder("previous", previous!)),
          path.basename(folder("staging", otherFolder!, "other")),
          "notes.edms-staging-by-a-user",
        ]),
      );
      expect(left).not.toContain(path.basename(folder("staging", otherHostOld!)));
      expect(left).not.toContain(`${path.basename(folder("staging", otherHostOld!))}${HOLDER_SUFFIX}`);
      expect(left).not.toContain(path.basename(folder("staging", noHolder!)));

      const status = await runRunner(["status", "--json"], {
        BACKUP_DESTINATION: `file://${dest}`,
        DATABASE_URL: live.db.url,
        MEDIA_DIR: live.target,
      });
      const copies = (JSON.parse(status.stdout) as StatusReport).runCopies!;
      const held = (name: string) => copies.find((c) => c.name === name)?.held;
      expect(held(copyDatabaseName("staging", live.db.name, heldDb))).toBe(true);
      expect(held(folder("staging", thisProcess!))).toBe(true);
      expect(held(folder("staging", otherHostFresh!))).toBe(true);
      expect(held(folder("previous", previous!))).toBe(false);
      expect(copies.some((c) => c.name.includes("other.edms"))).toBe(false);
    } finally {
      await heldHere.release();
      await locker.end();
    }
  });
});

describe("backups", () => {
  it("never archive the runner's own copies at the top of the media folder", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "edms-stale-exclude-"));
    const runId = newRunId();
    await writeFile(path.join(dir, "a.txt"), "a\n");
    for (const kind of ["staging", "previous"] as const) {
      await mkdir(path.join(dir, copyFolderName(kind, runId)));
      await writeFile(path.join(dir, copyFolderName(kind, runId), "partial.bin"), "partial\n");
    }
    await writeFile(path.join(dir, `${copyFolderName("staging", runId)}${HOLDER_SUFFIX}`), "{}\n");
    // Deeper down, the same name is the user's and is kept.
    await mkdir(path.join(dir, "sub", copyFolderName("staging", runId)), { recursive: true });
    await writeFile(path.join(dir, "sub", copyFolderName("staging", runId), "z.txt"), "z\n");
    const out = await mkdtemp(path.join(tmpdir(), "edms-stale-exclude-dest-"));
    const backup = await runRunner(["backup", "--tier", "daily", "--no-database"], {
      MEDIA_DIR: dir,
      BACKUP_DESTINATION: `file://${out}`,
    });
    expect(backup.code, backup.stderr).toBe(0);
    const restored = path.join(await mkdtemp(path.join(tmpdir(), "edms-stale-exclude-restored-")), "media");
    const restore = await runRunner(["restore", "latest", "--yes", "--media-only", "--media-dir", restored], {
      BACKUP_DESTINATION: `file://${out}`,
    });
    expect(restore.code, restore.stderr).toBe(0);
    expect((await mediaTreeDigest(restored)).map((e) => e.path)).toEqual([
      "a.txt",
      "sub",
      `sub/${copyFolderName("staging", runId)}`,
      `sub/${copyFolderName("staging", runId)}/z.txt`,
    ]);
  });
});
