// The restore role's preflight (issue 26, item 1), against the real server: before anything is
// downloaded, a restore checks every privilege it needs (create databases, own the target, set
// the owners of the restored tables) and refuses with one message naming each missing one and the
// statement that grants it. The backup's data objects are removed from the set first, so a restore
// that read a byte of them would fail differently. Running exactly the statements the message
// prints (as a superuser) makes the same restore succeed; the application's owner role, which
// owns the database and has CREATEDB, restores without any grant.
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, rename } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { connectionUrl } from "../helpers/pg-cluster.js";
import { fileDatabases } from "../helpers/file-databases.js";
import { sql, tableChecksums, type TestDatabase } from "../helpers/pg-test-db.js";
import { runRunner } from "../helpers/runner-cli.js";

const pg = inject("pg");
const dbs = fileDatabases(pg);
const suffix = randomBytes(3).toString("hex");
const admin = connectionUrl(pg, "postgres");

let live: TestDatabase;
let dest: string;
let setDir: string;
let atBackup: Awaited<ReturnType<typeof tableChecksums>>;
const appRole = `edms_app_${suffix}`;

/** A login role with `attributes`; its password is its name. */
async function role(name: string, attributes = ""): Promise<string> {
  await sql(admin, `create role "${name}" login password '${name}' ${attributes}`);
  return name;
}

function urlAs(user: string, database: string): string {
  return `postgres://${user}:${user}@${pg.host}:${pg.port}/${database}`;
}

/** The data objects of the set moved aside (and back): a restore that reads them fails. */
async function hideData<T>(work: () => Promise<T>): Promise<T> {
  const names = (await readdir(setDir)).filter((n) => n !== "manifest.json");
  for (const n of names) await rename(path.join(setDir, n), path.join(setDir, `.hidden-${n}`));
  try {
    return await work();
  } finally {
    for (const n of names) await rename(path.join(setDir, `.hidden-${n}`), path.join(setDir, n));
  }
}

function restoreAs(user: string) {
  return runRunner(["restore", "latest", "--yes", "--database-only", "--no-keep-previous"], {
    BACKUP_DESTINATION: `file://${dest}`,
    DATABASE_URL: urlAs(user, live.name),
  });
}

/** Who owns what, as PostgreSQL reports it: the database, schema docs, and every relation in docs and public. */
async function owners(): Promise<Record<string, string>> {
  const rows = await sql<{ what: string; owner: string }>(
    live.url,
    `select 'database', pg_get_userbyid(datdba) as owner from pg_database where datname = current_database()
     union all select 'schema docs', pg_get_userbyid(nspowner) from pg_namespace where nspname = 'docs'
     union all select c.relkind::text || ' ' || n.nspname || '.' || c.relname, pg_get_userbyid(c.relowner) from pg_class c
       join pg_namespace n on n.oid = c.relnamespace where n.nspname in ('docs', 'public')
     order by 1`,
  );
  return Object.fromEntries(rows.map((r) => [r.what, r.owner]));
}

/** The statements after ": " of each "  - " line of the message. */
function statements(message: string): string[] {
  return message
    .split("\n")
    .filter((l) => l.startsWith("  - "))
    .map((l) => l.slice(l.indexOf(": ") + 2).replace(/\s+\(or GRANT .*\)$/, ""));
}

beforeAll(async () => {
  await role(appRole);
  live = await dbs.create("restore_role");
  // The application's database as a Django deployment has it: the app role owns it and its tables.
  await sql(admin, `alter database "${live.name}" owner to "${appRole}"`);
  await sql(
    urlAs(appRole, live.name),
    `create schema docs;
     create table docs.document (id serial primary key, title text not null);
     insert into docs.document (title) select 'doc ' || g from generate_series(1, 50) g;
     create table public.note (id int primary key, body text);
     insert into public.note values (1, 'one'), (2, 'two');`,
  );
  dest = await mkdtemp(path.join(tmpdir(), "edms-restore-role-"));
  const backup = await runRunner(["backup", "--tier", "daily", "--no-media"], {
    BACKUP_DESTINATION: `file://${dest}`,
    DATABASE_URL: live.url,
  });
  expect(backup.code, backup.stderr).toBe(0);
  atBackup = await tableChecksums(live.url);
  const [id] = await readdir(path.join(dest, "daily"));
  setDir = path.join(dest, "daily", id!);
});

describe("the restore role's preflight", () => {
  it("a role with nothing: one message naming CREATEDB, the ownership and the owners, nothing touched", async () => {
    const user = await role(`edms_nothing_${suffix}`);
    const before = await tableChecksums(live.url);
    const result = await hideData(() => restoreAs(user));
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toMatch(
      new RegExp(`the role "${user}" cannot restore database "${live.name}"; nothing was downloaded`),
    );
    expect(result.stderr).toContain(`ALTER ROLE "${user}" CREATEDB;`);
    expect(result.stderr).toContain(`ALTER DATABASE "${live.name}" OWNER TO "${user}";`);
    expect(result.stderr).toContain(`GRANT "${appRole}" TO "${user}";`);
    expect(statements(result.stderr)).toHaveLength(3);
    expect(await tableChecksums(live.url)).toEqual(before);
    const staging = await sql<{ datname: string }>(admin, "select datname from pg_database where datname like $1", [
      `${live.name}__edms_%`,
    ]);
    expect(staging).toEqual([]);
  });

  it("CREATEDB alone: ownership and owners are still missing, and only they are named", async () => {
    const user = await role(`edms_createdb_${suffix}`, "createdb");
    const result = await hideData(() => restoreAs(user));
    expect(result.code).toBe(1);
    expect(result.stderr).not.toContain("CREATEDB;");
    expect(statements(result.stderr)).toEqual([
      `ALTER DATABASE "${live.name}" OWNER TO "${user}";`,
      `GRANT "${appRole}" TO "${user}";`,
    ]);
  });

  it("owning the database but not its tables' owner: only the owner's grant is named", async () => {
    // The database belongs to a role the user is a member of; the tables to the app role.
    const user = await role(`edms_dbowner_${suffix}`, "createdb");
    const other = await role(`edms_other_${suffix}`);
    await sql(admin, `grant "${other}" to "${user}"`);
    const scratch = await dbs.create("restore_role_owner");
    await sql(admin, `alter database "${scratch.name}" owner to "${other}"`);
    await sql(
      admin.replace(/\/postgres$/, `/${scratch.name}`),
      `create table t (x int); alter table t owner to "${appRole}"`,
    );
    const result = await hideData(() =>
      runRunner(["restore", "latest", "--yes", "--database-only", "--no-keep-previous"], {
        BACKUP_DESTINATION: `file://${dest}`,
        DATABASE_URL: urlAs(user, scratch.name),
      }),
    );
    expect(result.code).toBe(1);
    expect(statements(result.stderr)).toEqual([`GRANT "${appRole}" TO "${user}";`]);
  });

  it("the application's owner role with CREATEDB (database.restoreRole) restores without any grant", async () => {
    await sql(admin, `alter role "${appRole}" createdb`);
    await sql(urlAs(appRole, live.name), "update public.note set body = 'changed'");
    const result = await restoreAs(appRole);
    expect(result.code, result.stderr).toBe(0);
    const notes = await sql<{ body: string }>(urlAs(appRole, live.name), "select body from public.note order by id");
    expect(notes.map((n) => n.body)).toEqual(["one", "two"]);
    // The application can still write its tables: they are its own.
    await sql(urlAs(appRole, live.name), "insert into docs.document (title) values ('after')");
  });

  it("running the statements the message prints lets the same restore succeed", async () => {
    const user = await role(`edms_granted_${suffix}`);
    const refused = await hideData(() => restoreAs(user));
    expect(refused.code).toBe(1);
    for (const statement of statements(refused.stderr)) await sql(admin, statement);
    const before = await owners();
    expect(Object.values(before).every((o) => o === appRole)).toBe(true);
    const result = await restoreAs(user);
    expect(result.code, result.stderr).toBe(0);
    expect(await tableChecksums(live.url)).toEqual(atBackup);
    // A non-superuser member of the owner role keeps every owner (issue 23 item 1): the tables,
    // their sequences and indexes, the schema and the database are the application's, not the restorer's.
    expect(await owners()).toEqual(before);
  });

  it("a new target database needs only CREATEDB", async () => {
    const user = await role(`edms_fresh_${suffix}`, "createdb");
    const target = `restore_role_new_${suffix}`;
    const result = await runRunner(
      ["restore", "latest", "--yes", "--database-only", "--no-keep-previous", "--target-db", target],
      { BACKUP_DESTINATION: `file://${dest}`, DATABASE_URL: urlAs(user, live.name) },
    );
    expect(result.code, result.stderr).toBe(0);
    dbs.all.push({
      name: target,
      url: connectionUrl(pg, target),
      env: {},
      drop: () => sql(admin, `drop database if exists "${target}" with (force)`).then(() => undefined),
    });
  });
});
