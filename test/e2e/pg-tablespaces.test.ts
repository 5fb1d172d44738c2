// Tablespaces on a restore (issue 23 item 3): a set records the tablespaces its objects use; a
// server that has them gets every object back in its own tablespace, a server that lacks any of
// them gets every object in the default tablespace (pg_restore --no-tablespaces is all or
// nothing), with a warning naming the missing ones. Read back from pg_tables, not the runner's view.
import { chown, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { connectionUrl, postgresAccount, startPgCluster } from "../helpers/pg-cluster.js";
import { createTestDatabase, sql, tableChecksums, type TestDatabase } from "../helpers/pg-test-db.js";
import { runRunner } from "../helpers/runner-cli.js";

const pg = inject("pg");
const admin = connectionUrl(pg, "postgres");
let db: TestDatabase;
let dest: string;
let location: string;
const space = `edms_ts_${process.pid}`;

const placement = (url: string) =>
  sql<{ tablename: string; tablespace: string | null }>(
    url,
    "select tablename, tablespace from pg_tables where schemaname = 'public' order by 1",
  );
const restore = (url: string, target: string) =>
  runRunner(["restore", "latest", "--yes", "--database-only", "--no-keep-previous", "--target-db", target], {
    DATABASE_URL: url,
    BACKUP_DESTINATION: `file://${dest}`,
  });

beforeAll(async () => {
  // The tablespace's folder must belong to the server's account (postgres when the tests run as root).
  location = await mkdtemp(path.join(tmpdir(), "edms-tablespace-"));
  if (process.getuid?.() === 0) {
    const { uid, gid } = postgresAccount();
    await chown(location, uid, gid);
  }
  await sql(admin, `create tablespace ${space} location '${location}'`);
  db = await createTestDatabase(pg, "tablespaces");
  await sql(
    db.url,
    `create table placed (id int primary key, body text) tablespace ${space};
     insert into placed select g, md5(g::text) from generate_series(1, 500) g;
     create table plain (id int); insert into plain values (1), (2);`,
  );
  dest = await mkdtemp(path.join(tmpdir(), "edms-tablespace-dest-"));
  const backup = await runRunner(["backup", "--tier", "daily", "--no-media"], {
    DATABASE_URL: db.url,
    BACKUP_DESTINATION: `file://${dest}`,
  });
  expect(backup.code, backup.stderr).toBe(0);
}, 120_000);

afterAll(async () => {
  await db?.drop();
  for (const d of await sql<{ datname: string }>(
    admin,
    "select datname from pg_database where datname like 'edms_ts_target_%'",
  ))
    await sql(admin, `drop database "${d.datname}" with (force)`);
  await sql(admin, `drop tablespace if exists ${space}`).catch(() => undefined);
  await rm(location, { recursive: true, force: true });
  await rm(dest, { recursive: true, force: true });
});

describe("item 3: tablespaces", () => {
  it("a server that has the tablespace gets each table back in its own, with no warning", async () => {
    const target = `edms_ts_target_${process.pid}`;
    const result = await restore(admin, target);
    expect(result.code, result.stderr).toBe(0);
    expect(result.logs.find((l) => l.stage === "tablespaces")).toBeUndefined();
    const url = connectionUrl(pg, target);
    expect(await placement(url)).toEqual(await placement(db.url));
    expect(await placement(url)).toEqual([
      { tablename: "placed", tablespace: space },
      { tablename: "plain", tablespace: null },
    ]);
    expect(await tableChecksums(url)).toEqual(await tableChecksums(db.url));
  });

  it("a server that lacks it gets every table in the default tablespace, the data intact, and a warning naming it", async () => {
    const fresh = await startPgCluster();
    try {
      const url = connectionUrl(fresh, "postgres");
      const result = await restore(url, db.name);
      expect(result.code, result.stderr).toBe(0);
      const warned = result.logs.find((l) => l.stage === "tablespaces");
      expect(warned?.level).toBe("warn");
      expect(String(warned?.msg)).toContain(space);
      expect(String(warned?.msg)).toMatch(/every object goes to the default tablespace/);
      const restored = connectionUrl(fresh, db.name);
      expect(await placement(restored)).toEqual([
        { tablename: "placed", tablespace: null },
        { tablename: "plain", tablespace: null },
      ]);
      expect(await tableChecksums(restored)).toEqual(await tableChecksums(db.url));
    } finally {
      await fresh.stop();
    }
  });
});
