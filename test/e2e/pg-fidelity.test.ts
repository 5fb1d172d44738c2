// The database as PostgreSQL knew it (issue 23): a fixture with owners, grants, a SECURITY
// DEFINER function, database settings, odd names, inheritance, forced row-level security,
// subscriptions and a user mapping with a password is backed up, verified, restored and drilled
// with the built runner; each outcome is read from PostgreSQL's own catalogs and from
// `pg_dump --schema-only` diffs against the source and against a plain pg_dump | pg_restore.
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { connectionUrl, startPgCluster } from "../helpers/pg-cluster.js";
import {
  createFidelityFixture,
  databaseProperties,
  objectOwners,
  plainDumpRestore,
  schemaDump,
  type FidelityFixture,
} from "../helpers/pg-fidelity.js";
import { createTestDatabase, sql } from "../helpers/pg-test-db.js";
import { startReceiver } from "../helpers/notify-receiver.js";
import { runRunner } from "../helpers/runner-cli.js";

const pg = inject("pg");
const admin = connectionUrl(pg, "postgres");
let fx: FidelityFixture;
let dest: string;
const made: string[] = [];
const extraRoles: string[] = [];
const sfx = randomBytes(3).toString("hex");

const newName = (what: string) => {
  const name = `fid_${what}_${sfx}_${made.length}`;
  made.push(name);
  return name;
};
const env = (db: string, extra: Record<string, string> = {}) => ({
  DATABASE_URL: connectionUrl(pg, db),
  BACKUP_DESTINATION: `file://${dest}`,
  ...extra,
});
async function manifestOf(dir: string): Promise<Record<string, unknown>> {
  const tier = path.join(dir, "daily");
  const [id] = (await readdir(tier)).sort().reverse();
  return JSON.parse(await readFile(path.join(tier, id!, "manifest.json"), "utf8")) as Record<string, unknown>;
}
const restore = (target: string, extra: string[] = [], url = connectionUrl(pg, "postgres")) =>
  runRunner(["restore", "latest", "--yes", "--database-only", "--no-keep-previous", "--target-db", target, ...extra], {
    DATABASE_URL: url,
    BACKUP_DESTINATION: `file://${dest}`,
  });

beforeAll(async () => {
  fx = await createFidelityFixture(pg);
  made.push(fx.db.name);
  dest = await mkdtemp(path.join(tmpdir(), "edms-fidelity-"));
  const backup = await runRunner(["backup", "--tier", "daily", "--no-media"], env(fx.db.name));
  expect(backup.code, backup.stderr).toBe(0);
}, 120_000);

afterAll(async () => {
  await fx.dropRoles(made);
  for (const r of extraRoles) await sql(admin, `drop role if exists "${r}"`).catch(() => undefined);
});

describe("item 6: verify reads the archive's table of contents structurally", () => {
  it("verifies a good backup whose table name holds a newline and whose owner's name a space", async () => {
    const result = await runRunner(["verify", "latest"], { BACKUP_DESTINATION: `file://${dest}` });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout + result.stderr).not.toMatch(/no table data/);
  });
});

describe("item 9: row counts and the privilege pre-check", () => {
  it("counts an inheritance parent's own rows (ONLY), as PostgreSQL does", async () => {
    const manifest = await manifestOf(dest);
    const tables = (manifest.database as { tables: Array<{ schema: string; table: string; rows: number }> }).tables;
    const [own] = await sql<{ n: number }>(fx.db.url, "select count(*)::int as n from only app.parent");
    expect(tables.find((t) => t.table === "parent")?.rows).toBe(own!.n);
    expect(own!.n).toBe(1);
  });

  it("names forced row-level security and unreadable large objects before pg_dump runs", async () => {
    const role = `auditor_${sfx}`;
    const password = randomBytes(9).toString("hex");
    extraRoles.push(role);
    await sql(
      admin,
      `create role "${role}" login password '${password}'; grant connect on database "${fx.db.name}" to "${role}"`,
    );
    await sql(
      fx.db.url,
      `grant usage on schema app to "${role}"; grant select on all tables in schema app to "${role}"; grant select on all sequences in schema app to "${role}"`,
    );
    const out = await mkdtemp(path.join(tmpdir(), "edms-fidelity-rls-"));
    const result = await runRunner(["backup", "--tier", "daily", "--no-media"], {
      DATABASE_URL: `postgresql://${role}:${password}@${pg.host}:${pg.port}/${fx.db.name}`,
      BACKUP_DESTINATION: `file://${out}`,
    });
    await sql(
      fx.db.url,
      `revoke all on all tables in schema app from "${role}"; revoke usage on schema app from "${role}"`,
    );
    await sql(admin, `revoke connect on database "${fx.db.name}" from "${role}"`);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/row-level security/);
    expect(result.stderr).toContain('"app"."secured"');
    expect(result.stderr).toMatch(/large object/);
    expect(result.stderr).not.toMatch(/could not import the requested snapshot|query would be affected/);
    expect(await readdir(out)).toEqual([]);
  });
});

describe("item 1: owners", () => {
  it("a superuser's restore keeps every owner (SECURITY DEFINER function included), as pg_dump | pg_restore does", async () => {
    const target = newName("owners");
    const result = await restore(target);
    expect(result.code, result.stderr).toBe(0);
    const url = connectionUrl(pg, target);
    expect(await objectOwners(url)).toEqual(await objectOwners(fx.db.url));
    const [definer] = await sql<{ owner: string; secdef: boolean }>(
      url,
      "select pg_get_userbyid(proowner) as owner, prosecdef as secdef from pg_proc where proname = 'whoami'",
    );
    expect(definer).toEqual({ owner: fx.roles.definer, secdef: true });
    const baseline = newName("baseline");
    await plainDumpRestore(pg, fx.db.name, baseline);
    const restored = (await schemaDump(pg, target)).split("\n");
    expect(restored).toEqual((await schemaDump(pg, baseline)).split("\n"));
    expect(restored).toEqual((await schemaDump(pg, fx.db.name)).split("\n"));
  });

  it("a role that cannot keep them is told which owners change before the question, and a SECURITY DEFINER function's owner never changes silently", async () => {
    const role = `restorer_${sfx}`;
    const password = randomBytes(9).toString("hex");
    extraRoles.push(role);
    await sql(admin, `create role "${role}" login createdb password '${password}'`);
    const url = `postgresql://${role}:${password}@${pg.host}:${pg.port}/postgres`;
    const target = newName("nonsuper");
    const result = await restore(target, [], url);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`app.whoami() (SECURITY DEFINER, owned by ${fx.roles.definer})`);
    expect(result.stderr).toMatch(/--allow-owner-change/);
    const [exists] = await sql(admin, "select count(*)::int as n from pg_database where datname = $1", [target]);
    expect(exists).toEqual({ n: 0 });
  });
});

describe("item 2: the database's own properties", () => {
  it("a restore into a new database applies the backup's owner, settings, per-role settings, ACL and comment, and says so", async () => {
    const target = newName("props");
    const result = await restore(target);
    expect(result.code, result.stderr).toBe(0);
    const want = await databaseProperties(pg, fx.db.name);
    expect(await databaseProperties(pg, target)).toEqual(want);
    const done = result.logs.find((l) => l.stage === "done");
    expect(JSON.stringify(done)).toContain("work_mem=12MB");
  });

  it("in place, the backup's properties win over what the replaced database had", async () => {
    const target = newName("inplace");
    await sql(admin, `create database "${target}"`);
    await sql(admin, `comment on database "${target}" is 'replaced'; alter database "${target}" set work_mem = '1MB'`);
    const result = await restore(target);
    expect(result.code, result.stderr).toBe(0);
    expect(await databaseProperties(pg, target)).toEqual(await databaseProperties(pg, fx.db.name));
  });
});

describe("item 8: planner statistics", () => {
  it("the restored database has statistics for its tables, and the summary says how long ANALYZE took", async () => {
    const target = newName("stats");
    const result = await restore(target);
    expect(result.code, result.stderr).toBe(0);
    const [stats] = await sql<{ n: number }>(
      connectionUrl(pg, target),
      "select count(*)::int as n from pg_stats where schemaname = 'app' and tablename = 'accounts'",
    );
    expect(stats!.n).toBeGreaterThan(0);
    const analyzed = result.logs.find((l) => l.stage === "analyze");
    expect(typeof analyzed?.seconds).toBe("number");
  });
});

describe("item 4: subscriptions", () => {
  it("restored subscriptions are disabled and point at no slot", async () => {
    const target = newName("subs");
    const result = await restore(target);
    expect(result.code, result.stderr).toBe(0);
    const subs = await sql<{ subname: string; subenabled: boolean; subslotname: string | null }>(
      admin,
      "select s.subname, s.subenabled, s.subslotname from pg_subscription s join pg_database d on d.oid = s.subdbid where d.datname = $1 order by 1",
      [target],
    );
    expect(subs).toEqual([
      { subname: "fidelity_slot_sub", subenabled: false, subslotname: null },
      { subname: "fidelity_sub", subenabled: false, subslotname: null },
    ]);
  });

  it("the drill drops its scratch database even though the dump holds a subscription", async () => {
    const scratch = newName("drill");
    const result = await runRunner(["drill", "latest", "--scratch-db", scratch], env(fx.db.name));
    expect(result.code, result.stderr).toBe(0);
    const left = await sql(admin, "select datname from pg_database where datname = $1", [scratch]);
    expect(left).toEqual([]);
  });

  it("cleanup removes a staging copy that holds a subscription", async () => {
    const base = newName("cleanup");
    await sql(admin, `create database "${base}"`);
    const copy = `${base}__edms_staging_20200101T000000Z-00dead`;
    made.push(copy);
    // Filled under a neutral name, then renamed just before the cleanup: a restore in another test
    // file sweeps every stale staging copy of this shared cluster, and dropped this one while it
    // was being filled (seen in a full run).
    const filling = newName("cleanupfill");
    await plainDumpRestore(pg, fx.db.name, filling);
    await sql(admin, `alter database "${filling}" rename to "${copy}"`);
    const result = await runRunner(["cleanup", "--yes", "--target-db", base], env(base));
    expect(result.code, result.stderr).toBe(0);
    expect(await sql(admin, "select datname from pg_database where datname = $1", [copy])).toEqual([]);
  });
});

describe("item 7: pg_restore's statement text never travels", () => {
  it("a failed CREATE USER MAPPING leaves its password out of stderr, the JSON log and the webhook", async () => {
    const gone = `gone_${sfx}`;
    const secret = `mapping-pw-${randomBytes(6).toString("hex")}`;
    const db = await createTestDatabase(pg, "fidmapping");
    made.push(db.name);
    await sql(admin, `create role "${gone}"`);
    await sql(
      db.url,
      `create table t (id int); create foreign data wrapper fw_${sfx}; create server sv foreign data wrapper fw_${sfx};
       create user mapping for "${gone}" server sv options (user 'u', password '${secret}')`,
    );
    const out = await mkdtemp(path.join(tmpdir(), "edms-fidelity-map-"));
    const backup = await runRunner(["backup", "--tier", "daily", "--no-media"], {
      DATABASE_URL: db.url,
      BACKUP_DESTINATION: `file://${out}`,
    });
    expect(backup.code, backup.stderr).toBe(0);
    // As a set of an earlier runner: no roles recorded, so the restore cannot create the missing one.
    const [id] = await readdir(path.join(out, "daily"));
    const manifestFile = path.join(out, "daily", id!, "manifest.json");
    const manifest = JSON.parse(await readFile(manifestFile, "utf8")) as { database: Record<string, unknown> };
    delete manifest.database.roles;
    await writeFile(manifestFile, JSON.stringify(manifest));
    await sql(db.url, `drop user mapping for "${gone}" server sv`);
    await sql(admin, `drop role "${gone}"`);
    const receiver = await startReceiver();
    try {
      const target = newName("mapping");
      const result = await runRunner(
        ["restore", "latest", "--yes", "--database-only", "--no-keep-previous", "--target-db", target],
        { DATABASE_URL: admin, BACKUP_DESTINATION: `file://${out}` },
      );
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/pg_restore/);
      expect(result.stderr).toContain("Command was: (statement not shown)");
      // The drill reports its failure to the webhook.
      const drill = await runRunner(["drill", "latest"], {
        DATABASE_URL: admin,
        BACKUP_DESTINATION: `file://${out}`,
        NOTIFY_WEBHOOK_URL: receiver.url,
      });
      expect(drill.code).toBe(1);
      expect(receiver.requests.map((r) => r.body).join("\n")).toMatch(/pg_restore/);
      const everything =
        [result, drill].map((r) => r.stdout + r.stderr).join("\n") + receiver.requests.map((r) => r.body).join("\n");
      expect(everything).not.toContain(secret);
      expect(everything).not.toMatch(/CREATE USER MAPPING/i);
    } finally {
      await receiver.close();
    }
  });
});

describe("item 5: pg_dump's warnings", () => {
  it("are logged, counted in the manifest and shown by list, verify and status", async () => {
    const role = `dumper_${sfx}`;
    const password = randomBytes(9).toString("hex");
    extraRoles.push(role);
    await sql(admin, `create role "${role}" login password '${password}'`);
    const db = await createTestDatabase(pg, "fidwarn");
    made.push(db.name);
    await sql(admin, `alter database "${db.name}" owner to "${role}"`);
    await sql(
      db.url,
      `create table t (id int); insert into t values (1); alter table t owner to "${role}";
       create publication p for table t;
       create subscription warn_sub connection 'host=${pg.host} port=${pg.port} dbname=postgres' publication p with (connect = false, slot_name = NONE)`,
    );
    const out = await mkdtemp(path.join(tmpdir(), "edms-fidelity-warn-"));
    const where = { BACKUP_DESTINATION: `file://${out}` };
    const backup = await runRunner(["backup", "--tier", "daily", "--no-media"], {
      ...where,
      DATABASE_URL: `postgresql://${role}:${password}@${pg.host}:${pg.port}/${db.name}`,
    });
    expect(backup.code, backup.stderr).toBe(0);
    const warned = backup.logs.find((l) => l.level === "warn" && l.stage === "pg_dump");
    expect(String(warned?.warning)).toMatch(/subscriptions not dumped/);
    const database = (await manifestOf(out)).database as { warningCount: number; warnings: string[] };
    expect(database.warningCount).toBe(1);
    expect(database.warnings[0]).toMatch(/subscriptions not dumped because current user is not a superuser/);
    const list = await runRunner(["list", "--json"], where);
    expect(JSON.parse(list.stdout)[0].database.warnings).toBe(1);
    const verify = await runRunner(["verify", "latest", "--json"], where);
    expect(verify.code).toBe(0);
    expect(JSON.parse(verify.stdout).warnings.join("\n")).toMatch(/subscriptions not dumped/);
    const status = await runRunner(["status"], where);
    expect(status.stdout + status.stderr).toMatch(/pg_dump printed 1 warning/);
  });
});

describe("item 3: recovery onto a new server", () => {
  it("a restore onto a server without the roles creates them without passwords, keeps every owner and says how to set passwords; the drill can target that server", async () => {
    const fresh = await startPgCluster();
    try {
      const url = connectionUrl(fresh, "postgres");
      const manifest = await manifestOf(dest);
      const recorded = (manifest.database as { roles: Array<{ name: string }> }).roles.map((r) => r.name);
      expect(recorded.sort()).toEqual(Object.values(fx.roles).sort());
      const target = fx.db.name;
      const result = await restore(target, [], url);
      expect(result.code, result.stderr).toBe(0);
      const warned = result.logs.find((l) => l.stage === "roles");
      expect(String(warned?.msg)).toMatch(/without passwords/);
      expect(String(warned?.msg)).toMatch(/ALTER ROLE .* PASSWORD/);
      const roles = await sql<{ rolname: string; rolpassword: string | null }>(
        url,
        "select rolname, rolpassword from pg_authid where rolname = any($1) order by 1",
        [Object.values(fx.roles)],
      );
      expect(roles.map((r) => r.rolname)).toEqual(Object.values(fx.roles).sort());
      expect(roles.every((r) => r.rolpassword === null)).toBe(true);
      expect(await objectOwners(connectionUrl(fresh, target))).toEqual(await objectOwners(fx.db.url));
      expect(await databaseProperties(fresh, target)).toEqual(await databaseProperties(pg, fx.db.name));
      const drill = await runRunner(["drill", "latest"], {
        DATABASE_URL: fx.db.url,
        DRILL_DATABASE_URL: url,
        BACKUP_DESTINATION: `file://${dest}`,
      });
      expect(drill.code, drill.stderr).toBe(0);
      const left = await sql(url, "select datname from pg_database where datname like '%edms_staging%'");
      expect(left).toEqual([]);
    } finally {
      await fresh.stop();
    }
  });
});
