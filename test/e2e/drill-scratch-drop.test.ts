// A drill whose scratch database cannot be dropped (issue 23 item 4): the scratch copy is a full
// copy of the data, so a drill that leaves it behind must fail, say which database is left and
// what removes it, and `cleanup` must then remove it. PostgreSQL itself refuses the drop here: a
// prepared transaction in the scratch database (which DROP DATABASE ... WITH (FORCE) cannot end),
// made while the drill is paused just before its drop (EDMS_FAULT_POINT, tests only).
import { mkdtemp, readFile, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectionUrl, startPgCluster, type PgCluster } from "../helpers/pg-cluster.js";
import { sql } from "../helpers/pg-test-db.js";
import { runRunner, startRunner } from "../helpers/runner-cli.js";

let cluster: PgCluster;
let dest: string;
const source = "drill_drop_src";
const scratch = "drill_drop_src__edms_staging_20200101T000000Z-00beef";

const exists = (p: string) =>
  stat(p).then(
    () => true,
    () => false,
  );
const databases = async () =>
  (await sql<{ datname: string }>(connectionUrl(cluster, "postgres"), "select datname from pg_database")).map(
    (r) => r.datname,
  );

beforeAll(async () => {
  cluster = await startPgCluster({ settings: ["max_prepared_transactions=2"] });
  await sql(connectionUrl(cluster, "postgres"), `create database ${source}`);
  await sql(
    connectionUrl(cluster, source),
    "create table docs (id int primary key); insert into docs select generate_series(1, 100)",
  );
  dest = await mkdtemp(path.join(tmpdir(), "edms-drill-drop-"));
  const backup = await runRunner(["backup", "--tier", "daily", "--no-media"], {
    DATABASE_URL: connectionUrl(cluster, source),
    BACKUP_DESTINATION: `file://${dest}`,
  });
  expect(backup.code, backup.stderr).toBe(0);
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
  if (dest) await rm(dest, { recursive: true, force: true });
});

describe("a drill that cannot drop its scratch database (issue 23 item 4)", () => {
  it("fails naming the database left and the command that removes it; cleanup then removes it", async () => {
    const flag = path.join(dest, "pause-flag");
    const env = { DATABASE_URL: connectionUrl(cluster, source), BACKUP_DESTINATION: `file://${dest}` };
    const drill = await startRunner(["drill", "latest", "--scratch-db", scratch], {
      ...env,
      EDMS_FAULT_POINT: `drill.before-drop:pause:${flag}`,
    });
    for (let i = 0; !(await exists(flag)); i++) {
      if (i > 3000) throw new Error(`the drill never reached its drop: ${(await drill.result).stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    // A prepared transaction holds the scratch database: DROP DATABASE refuses it, even WITH (FORCE).
    const holder = new pg.Client({ connectionString: connectionUrl(cluster, scratch) });
    await holder.connect();
    await holder.query("begin; create table held (id int); prepare transaction 'edms_test_hold'");
    await holder.end();
    await rm(flag);
    const result = await drill.result;
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toContain(`could not drop the scratch database ${scratch}`);
    expect(result.stderr).toMatch(/edms-backup cleanup/);
    expect(await databases()).toContain(scratch);
    // The drill record (what status and the alarms read) says it failed.
    const records = await readdir(path.join(dest, "drills"));
    expect(records).toHaveLength(1);
    const record = JSON.parse(await readFile(path.join(dest, "drills", records[0]!), "utf8")) as { ok: boolean };
    expect(record.ok).toBe(false);

    // Once the transaction is gone, the cleanup the message names removes the copy.
    await sql(connectionUrl(cluster, scratch), "rollback prepared 'edms_test_hold'");
    const cleanup = await runRunner(["cleanup", "--yes"], env);
    expect(cleanup.code, cleanup.stderr).toBe(0);
    expect(await databases()).not.toContain(scratch);
    expect(await databases()).toContain(source);
  }, 120_000);
});
