// What happens when a restore meets the live copies it replaces (issue 10, item 4): a non-root
// runner (as the pod runs) and read-only or foreign folders in the old media, the server's
// template databases, and an application whose database is named `postgres`. Every outcome is
// either "restored" or "left exactly as it was", and the message says which.
import { chmod, chown, mkdir, mkdtemp, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { run } from "../helpers/exec.js";
import { connectionUrl, startPgCluster, type PgCluster } from "../helpers/pg-cluster.js";
import { createTestDatabase, sql, tableChecksums, type TestDatabase } from "../helpers/pg-test-db.js";
import { dailyBackup, runRunner, type RunAs } from "../helpers/runner-cli.js";
import { mediaTreeDigest } from "../helpers/sample-data.js";

const pg = inject("pg");
const asRoot = process.getuid?.() === 0;
/** The pod's uid (runner/Dockerfile); any unprivileged uid shows the same. */
const RUNNER: RunAs = { uid: 10001, gid: 10001 };

let work: string;
let media: string;
let dest: string;
let source: TestDatabase;
const databases: TestDatabase[] = [];
const mounts: string[] = [];

/** A folder (made by root) that the runner uid owns. */
async function ownedDir(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  await chown(dir, RUNNER.uid, RUNNER.gid);
  return dir;
}

/** Live media owned by the runner, with a read-only folder, and with a folder the runner does not own. */
async function liveMedia(dir: string, foreign: boolean): Promise<void> {
  await writeFile(path.join(dir, "live.txt"), "live\n");
  const ro = await ownedDir(path.join(dir, "read-only"));
  await writeFile(path.join(ro, "kept.txt"), "kept\n");
  await chown(path.join(ro, "kept.txt"), RUNNER.uid, RUNNER.gid);
  await chmod(ro, 0o555);
  if (foreign) {
    // root's folder, readable by all: the runner can neither move it elsewhere nor empty it.
    await mkdir(path.join(dir, "foreign"), { mode: 0o755 });
    await writeFile(path.join(dir, "foreign", "theirs.txt"), "theirs\n");
  }
  await chown(dir, RUNNER.uid, RUNNER.gid);
}

async function tmpfsAt(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const mounted = await run("mount", ["-t", "tmpfs", "-o", "size=16m,mode=0755", "tmpfs", dir]);
  expect(mounted.code, mounted.stderr).toBe(0);
  mounts.push(dir);
  return ownedDir(dir);
}

function copies(names: string[]): string[] {
  return names.filter((n) => /edms-(staging|previous)-/.test(n));
}

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), "edms-swapfail-"));
  await chmod(work, 0o755);
  media = path.join(work, "source-media");
  await mkdir(path.join(media, "docs"), { recursive: true });
  await writeFile(path.join(media, "docs", "a.txt"), "from the backup\n");
  await writeFile(path.join(media, "b.txt"), "also from the backup\n");
  source = await createTestDatabase(pg, "swapfail_src");
  databases.push(source);
  await sql(source.url, "create table t (id int primary key, v text); insert into t values (1, 'backup')");
  dest = path.join(work, "backups");
  await dailyBackup({ DATABASE_URL: source.url, MEDIA_DIR: media, BACKUP_DESTINATION: `file://${dest}` });
  // A file:// destination is its writer's alone (0600 objects, 0700 folders): the runner's uid owns it here.
  if (asRoot) expect((await run("chown", ["-R", `${RUNNER.uid}:${RUNNER.gid}`, dest])).code).toBe(0);
});

afterAll(async () => {
  for (const m of mounts) await run("umount", [m]);
  for (const db of databases) await db.drop();
});

describe.skipIf(!asRoot)("a non-root runner over media it cannot entirely move or remove", () => {
  const restoreMedia = (target: string, extra: string[] = [], env: Record<string, string> = {}) =>
    runRunner(
      ["restore", "--no-keep-previous", "latest", "--yes", "--media-dir", target, ...extra],
      { BACKUP_DESTINATION: `file://${dest}`, ...env },
      RUNNER,
    );

  /** A media-only restore over `<work>/<name>/media` (live media as liveMedia makes it) that must succeed. */
  async function restoredBeside(name: string, foreign: boolean) {
    const parent = await ownedDir(path.join(work, name));
    const target = await ownedDir(path.join(parent, "media"));
    await liveMedia(target, foreign);
    const result = await restoreMedia(target, ["--media-only"]);
    expect(result.code, result.stderr).toBe(0);
    expect(await mediaTreeDigest(target)).toEqual(await mediaTreeDigest(media));
    return { result, left: copies(await readdir(parent)) };
  }

  it("beside: a read-only folder in the old media is removed after the swap; exit 0", async () => {
    const { left } = await restoredBeside("beside-ro", false);
    expect(left).toEqual([]);
  });

  it("beside: a folder the runner cannot empty stays as the named previous copy; the restore still completes", async () => {
    const { result, left } = await restoredBeside("beside-foreign", true);
    expect(left).toEqual([expect.stringMatching(/^\.media\.edms-previous-\d{8}T\d{6}Z-[0-9a-f]{6}$/)]);
    const warning = result.logs.find((l) => l.stage === "cleanup");
    expect(warning?.msg).toMatch(/the restore is complete, but the previous copy .* could not be removed/);
    expect(String(warning?.previous)).toContain(left[0]);
    expect(result.logs.find((l) => l.stage === "done")).toBeDefined();
  });

  it("inside a mount point: read-only folders (old and restored) are moved; exit 0", async () => {
    const mount = await tmpfsAt(path.join(work, "mount-ro"));
    await liveMedia(mount, false);
    const result = await restoreMedia(mount, ["--media-only"]);
    expect(result.code, result.stderr).toBe(0);
    expect(await mediaTreeDigest(mount)).toEqual(await mediaTreeDigest(media));
    expect(copies(await readdir(mount))).toEqual([]);
  });

  it("inside a mount point: a folder that cannot be moved fails the swap, and database and media are put back", async () => {
    const mount = await tmpfsAt(path.join(work, "mount-foreign"));
    await liveMedia(mount, true);
    const live = await createTestDatabase(pg, "swapfail_live");
    databases.push(live);
    await sql(live.url, "create table t (id int primary key, v text); insert into t values (1, 'live')");
    const before = { media: await mediaTreeDigest(mount), db: await tableChecksums(live.url) };
    const result = await restoreMedia(mount, ["--target-db", live.name], { DATABASE_URL: source.url });
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toMatch(/permission denied/i);
    expect(result.logs.find((l) => l.stage === "failed")?.msg).toBe(
      "restore failed; the target database and media folder were left as they were",
    );
    expect(await mediaTreeDigest(mount)).toEqual(before.media);
    expect(await tableChecksums(live.url)).toEqual(before.db);
    expect(copies(await readdir(mount))).toEqual([]);
    const left = await sql<{ datname: string }>(
      connectionUrl(pg, "postgres"),
      "select datname from pg_database where datname like $1",
      [`${live.name}__edms_%`],
    );
    expect(left).toEqual([]);
  });
});

describe("template databases and the maintenance database", () => {
  it.each([
    ["--target-db template1", (url: string) => [["--target-db", "template1"], url] as const],
    ["a DATABASE_URL naming template0", (url: string) => [[], url.replace(/\/[^/]*$/, "/template0")] as const],
  ])("%s is refused up front (exit 2)", async (_name, make) => {
    const [args, url] = make(source.url);
    const result = await runRunner(["restore", "--no-keep-previous", "latest", "--yes", "--database-only", ...args], {
      DATABASE_URL: url,
      BACKUP_DESTINATION: `file://${dest}`,
    });
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toMatch(/template0|template1/);
    expect(result.stderr).toMatch(/template databases, which a restore never replaces/);
  });

  it("a database marked as a template on the server is refused before anything is restored (exit 2)", async () => {
    const tmpl = await createTestDatabase(pg, "swapfail_tmpl");
    databases.push(tmpl);
    const admin = connectionUrl(pg, "postgres");
    await sql(admin, `alter database "${tmpl.name}" is_template true`);
    try {
      const result = await runRunner(
        ["restore", "--no-keep-previous", "latest", "--yes", "--database-only", "--target-db", tmpl.name],
        {
          DATABASE_URL: source.url,
          BACKUP_DESTINATION: `file://${dest}`,
        },
      );
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toMatch(/is a template database/);
      const left = await sql(admin, "select 1 from pg_database where datname like $1", [`${tmpl.name}__edms_%`]);
      expect(left).toEqual([]);
    } finally {
      await sql(admin, `alter database "${tmpl.name}" is_template false`);
    }
  });

  it("a drill's --scratch-db naming an existing database leaves that database alone", async () => {
    const existing = await createTestDatabase(pg, "swapfail_existing");
    databases.push(existing);
    await sql(existing.url, "create table precious (id int); insert into precious values (42)");
    const result = await runRunner(["drill", "latest", "--scratch-db", existing.name], {
      DATABASE_URL: source.url,
      BACKUP_DESTINATION: `file://${dest}`,
    });
    expect(result.code).toBe(1);
    expect(await sql(existing.url, "select id from precious")).toEqual([{ id: 42 }]);
  });

  describe("an application whose database is named postgres", () => {
    // Its own server: replacing `postgres` on the shared test cluster would disturb every other test.
    let cluster: PgCluster;
    beforeAll(async () => {
      cluster = await startPgCluster();
    });
    afterAll(async () => {
      await cluster?.stop();
    });

    it("is restored: the maintenance connection moves to template1", async () => {
      const url = cluster.url("postgres");
      await sql(url, "create table app (id int primary key, v text); insert into app values (1, 'backed up')");
      const appDest = path.join(work, "postgres-app");
      const backup = await runRunner(["backup", "--tier", "daily", "--no-media"], {
        DATABASE_URL: url,
        BACKUP_DESTINATION: `file://${appDest}`,
      });
      expect(backup.code, backup.stderr).toBe(0);
      await sql(url, "update app set v = 'changed later'");
      const result = await runRunner(["restore", "--no-keep-previous", "latest", "--yes"], {
        DATABASE_URL: url,
        BACKUP_DESTINATION: `file://${appDest}`,
      });
      expect(result.code, result.stderr).toBe(0);
      expect(await sql(url, "select v from app")).toEqual([{ v: "backed up" }]);
      const names = await sql<{ datname: string }>(cluster.url("template1"), "select datname from pg_database");
      expect(names.map((r) => r.datname).sort()).toEqual(["postgres", "template0", "template1"]);
    });
  });
});
