// A database with the shapes PostgreSQL's own regression database showed the runner losing
// (issue 23): owners that are not the restoring role (one with a space in its name), grants, a
// SECURITY DEFINER function owned by a non-superuser, a view and a large object owned by other
// roles, database settings and per-role settings in it, REVOKE CONNECT FROM PUBLIC, a database
// comment, a table whose name holds a newline, inheritance, forced row-level security, a
// subscription (connect = false) and a user mapping with a password. Plus what PostgreSQL itself
// says about such a database (catalog queries, pg_dump --schema-only), for the tests to compare.
// No vitest imports.
import { randomBytes } from "node:crypto";
import path from "node:path";
import { run } from "./exec.js";
import { connectionEnv, connectionUrl, type PgConnectionInfo } from "./pg-cluster.js";
import { createTestDatabase, sql, type TestDatabase } from "./pg-test-db.js";

export interface FidelityFixture {
  db: TestDatabase;
  roles: { owner: string; definer: string; viewer: string };
  /** The password in the user mapping's options: must never be printed. */
  mappingPassword: string;
  /** The slot name the second subscription points at on its publisher. */
  slotName: string;
  /** Drops the roles (after the databases using them are gone). */
  dropRoles(databases: readonly string[]): Promise<void>;
}

const q = (name: string) => `"${name.replace(/"/g, '""')}"`;

export async function createFidelityFixture(pg: PgConnectionInfo): Promise<FidelityFixture> {
  const sfx = randomBytes(3).toString("hex");
  const roles = { owner: `app owner ${sfx}`, definer: `definer_${sfx}`, viewer: `viewer_${sfx}` };
  const mappingPassword = `mapping-secret-${randomBytes(6).toString("hex")}`;
  const slotName = `live_slot_${sfx}`;
  const admin = connectionUrl(pg, "postgres");
  await sql(
    admin,
    Object.values(roles)
      .map((r) => `create role ${q(r)} nologin`)
      .join("; "),
  );
  const db = await createTestDatabase(pg, "fidelity");
  const D = q(db.name);
  await sql(
    admin,
    [
      `alter database ${D} owner to ${q(roles.owner)}`,
      `alter database ${D} set work_mem = '12MB'`,
      `alter database ${D} set default_statistics_target = 250`,
      `alter role ${q(roles.viewer)} in database ${D} set search_path = app, public`,
      `revoke connect, temporary on database ${D} from public`,
      `grant connect on database ${D} to ${q(roles.viewer)}`,
      `comment on database ${D} is 'fidelity fixture: do not connect'`,
    ].join("; "),
  );
  await sql(
    db.url,
    [
      `create schema app authorization ${q(roles.owner)}`,
      `create table app.accounts (id int primary key, name text)`,
      `insert into app.accounts select g, 'account ' || g from generate_series(1, 30) g`,
      `alter table app.accounts owner to ${q(roles.owner)}`,
      `grant select on app.accounts to ${q(roles.viewer)}`,
      `create table app."odd\nname" (id int)`,
      `insert into app."odd\nname" values (1), (2)`,
      `alter table app."odd\nname" owner to ${q(roles.definer)}`,
      `create table app.parent (id int)`,
      `create table app.child (extra text) inherits (app.parent)`,
      `insert into app.parent values (1)`,
      `insert into app.child values (2, 'a'), (3, 'b')`,
      `create table app.secured (id int, who text)`,
      `insert into app.secured values (1, 'x'), (2, 'y')`,
      `alter table app.secured enable row level security`,
      `alter table app.secured force row level security`,
      `create policy own_rows on app.secured using (who = current_user)`,
      `alter table app.secured owner to ${q(roles.owner)}`,
      `create view app.account_names as select name from app.accounts`,
      `alter view app.account_names owner to ${q(roles.viewer)}`,
      `create function app.whoami() returns text language sql security definer as 'select current_user::text'`,
      `alter function app.whoami() owner to ${q(roles.definer)}`,
      `select lo_from_bytea(0, 'a large object')`,
      `do $$ begin execute format('alter large object %s owner to %I', (select max(oid) from pg_largeobject_metadata), ${lit(roles.definer)}); end $$`,
      `create foreign data wrapper fidelity_fdw`,
      `create server fidelity_server foreign data wrapper fidelity_fdw`,
      `create user mapping for ${q(roles.viewer)} server fidelity_server options (user 'remote', password '${mappingPassword}')`,
      `create publication fidelity_pub for table app.accounts`,
      // Neither connects: the publisher is this same cluster's postgres database (never asked).
      `create subscription fidelity_sub connection 'host=${pg.host} port=${pg.port} dbname=postgres' publication fidelity_pub with (connect = false, slot_name = NONE)`,
      `create subscription fidelity_slot_sub connection 'host=${pg.host} port=${pg.port} dbname=postgres' publication fidelity_pub with (connect = false, slot_name = '${slotName}')`,
    ].join("; "),
  );
  return {
    db,
    roles,
    mappingPassword,
    slotName,
    async dropRoles(databases) {
      for (const name of databases) await dropDatabaseWithSubscriptions(pg, name);
      for (const r of Object.values(roles)) {
        await sql(admin, `drop role if exists ${q(r)}`).catch(() => undefined);
      }
    },
  };
}

function lit(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/** DROP DATABASE refuses a database holding a subscription: detach and drop them first. */
export async function dropDatabaseWithSubscriptions(pg: PgConnectionInfo, name: string): Promise<void> {
  const exists = await sql(connectionUrl(pg, "postgres"), "select 1 from pg_database where datname = $1", [name]);
  if (!exists.length) return;
  const subs = await sql<{ subname: string }>(
    connectionUrl(pg, "postgres"),
    "select s.subname from pg_subscription s join pg_database d on d.oid = s.subdbid where d.datname = $1",
    [name],
  );
  for (const { subname } of subs)
    await sql(
      connectionUrl(pg, name),
      `alter subscription ${q(subname)} disable; alter subscription ${q(subname)} set (slot_name = none); drop subscription ${q(subname)}`,
    );
  await sql(connectionUrl(pg, "postgres"), `drop database if exists ${q(name)} with (force)`);
}

/** What PostgreSQL says about a database's own properties (not its contents). */
export async function databaseProperties(pg: PgConnectionInfo, name: string) {
  const [row] = await sql<{ owner: string; acl: string | null; comment: string | null; connlimit: number }>(
    connectionUrl(pg, "postgres"),
    `select pg_get_userbyid(datdba) as owner, datacl::text as acl, shobj_description(oid, 'pg_database') as comment,
            datconnlimit as connlimit
     from pg_database where datname = $1`,
    [name],
  );
  const settings = await sql<{ role: string | null; setting: string[] }>(
    connectionUrl(pg, "postgres"),
    `select case when s.setrole = 0 then null else pg_get_userbyid(s.setrole) end as role, s.setconfig as setting
     from pg_db_role_setting s join pg_database d on d.oid = s.setdatabase where d.datname = $1 order by 1 nulls first`,
    [name],
  );
  return { ...row, settings };
}

/** Owners of the fixture's objects, as the catalogs say. */
export async function objectOwners(url: string): Promise<Record<string, string>> {
  const rows = await sql<{ what: string; owner: string }>(
    url,
    `select 'table ' || c.relname as what, pg_get_userbyid(c.relowner) as owner from pg_class c
       join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'app' and c.relkind in ('r', 'v')
     union all select 'function ' || p.proname, pg_get_userbyid(p.proowner) from pg_proc p
       join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'app'
     union all select 'schema app', pg_get_userbyid(nspowner) from pg_namespace where nspname = 'app'
     union all select 'large object', pg_get_userbyid(lomowner) from pg_largeobject_metadata
     order by 1`,
  );
  return Object.fromEntries(rows.map((r) => [r.what, r.owner]));
}

/**
 * pg_dump --schema-only of a database, with what necessarily differs between two databases
 * (the database's own name in comments and statements) normalised away.
 */
export async function schemaDump(pg: PgConnectionInfo, name: string): Promise<string> {
  const result = await run(path.join(pg.binDir, "pg_dump"), ["--schema-only", "--no-subscriptions", "--dbname", name], {
    env: { ...process.env, ...connectionEnv(pg, name) },
    timeoutMs: 60_000,
  });
  if (result.code !== 0) throw new Error(`pg_dump --schema-only ${name}: ${result.stderr}`);
  // \restrict's key is random per run (pg_dump's guard against psql meta-commands in names).
  return result.stdout
    .split(name)
    .join("<db>")
    .replace(/^\\(un)?restrict \S+$/gm, "\\$1restrict <key>");
}

/** The baseline the runner is held against: pg_dump -Fc | pg_restore into `target`, run by the superuser. */
export async function plainDumpRestore(pg: PgConnectionInfo, source: string, target: string): Promise<void> {
  await sql(connectionUrl(pg, "postgres"), `create database ${q(target)} template template0`);
  const env = { ...process.env, ...connectionEnv(pg, source) };
  const dump = path.join(pg.binDir, "pg_dump");
  const restore = path.join(pg.binDir, "pg_restore");
  const result = await run(
    "sh",
    ["-c", `"${dump}" -Fc --dbname "$1" | "${restore}" --dbname "$2"`, "sh", source, target],
    {
      env,
      timeoutMs: 120_000,
    },
  );
  if (result.code !== 0) throw new Error(`pg_dump | pg_restore: ${result.stderr}`);
}
