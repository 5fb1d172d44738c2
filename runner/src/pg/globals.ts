/**
 * The cluster-wide objects a dump needs and does not hold: the roles that own its objects, are
 * granted privileges on them or have settings in the database (with their attributes and their
 * memberships among each other, never a password), and the tablespaces its objects live in.
 * Recorded at backup time from the catalogs (pg_roles, pg_auth_members, pg_shdepend), which a
 * non-superuser may read, as structured data rather than `pg_dumpall --globals-only` SQL text
 * (which would have to be filtered by parsing it). A restore onto a server that lacks them
 * creates the missing roles, without passwords, before pg_restore.
 */
import type pg from "pg";
import { quoteIdentifier } from "./sql-quote.js";
import { z } from "zod";
import { safeName } from "../output/format.js";

export const roleSchema = z.object({
  name: z.string(),
  login: z.boolean(),
  inherit: z.boolean(),
  createdb: z.boolean(),
  createrole: z.boolean(),
  replication: z.boolean(),
  bypassrls: z.boolean(),
  connectionLimit: z.number().int(),
  /** Roles (among those recorded) this one is a member of. */
  memberOf: z.array(z.string()),
});
export type RoleEntry = z.infer<typeof roleSchema>;

// Every role the database's objects depend on (owner, ACL, policies: pg_shdepend), the database's
// owner, the grantees of its ACL and the roles with settings in it. Superusers and predefined
// roles (pg_*) are left out: they exist on every server or must not be created by a restore.
const NEEDED_ROLES = `
  with db as (select oid, datdba, datacl from pg_database where datname = current_database()),
  needed as (
    select refobjid as oid from pg_shdepend, db where refclassid = 'pg_authid'::regclass and dbid = db.oid
    union select datdba from db
    union select a.grantee from db, aclexplode(db.datacl) a where a.grantee <> 0
    union select setrole from pg_db_role_setting, db where setdatabase = db.oid and setrole <> 0)
  select r.rolname as name, r.rolcanlogin as login, r.rolinherit as inherit, r.rolcreatedb as createdb,
         r.rolcreaterole as createrole, r.rolreplication as replication, r.rolbypassrls as bypassrls,
         r.rolconnlimit as "connectionLimit",
         coalesce((select array_agg(g.rolname::text order by g.rolname) from pg_auth_members m
                     join pg_roles g on g.oid = m.roleid
                   where m.member = r.oid and m.roleid in (select oid from needed)), '{}'::text[]) as "memberOf"
  from pg_roles r
  where r.oid in (select oid from needed) and not r.rolsuper and r.rolname not like 'pg\\_%'
  order by 1`;

const TABLESPACES = `
  select distinct t.spcname as name from pg_tablespace t
  where t.spcname not in ('pg_default', 'pg_global')
    and (t.oid in (select reltablespace from pg_class where reltablespace <> 0)
         or t.oid = (select dattablespace from pg_database where datname = current_database()))
  order by 1`;

export async function readGlobals(client: pg.Client): Promise<{ roles: RoleEntry[]; tablespaces: string[] }> {
  const roles = (await client.query(NEEDED_ROLES)).rows.map((r) => roleSchema.parse(r));
  const tablespaces = (await client.query<{ name: string }>(TABLESPACES)).rows.map((r) => r.name);
  return { roles, tablespaces };
}

/** The recorded roles the server does not have. */
export async function missingRoles(client: pg.Client, roles: readonly RoleEntry[]): Promise<RoleEntry[]> {
  const have = await client.query<{ rolname: string }>("select rolname from pg_roles where rolname = any($1)", [
    roles.map((r) => r.name),
  ]);
  const existing = new Set(have.rows.map((r) => r.rolname));
  return roles.filter((r) => !existing.has(r.name));
}

/** The recorded tablespaces the server does not have. */
export async function missingTablespaces(client: pg.Client, names: readonly string[]): Promise<string[]> {
  const have = await client.query<{ spcname: string }>("select spcname from pg_tablespace where spcname = any($1)", [
    names,
  ]);
  const existing = new Set(have.rows.map((r) => r.spcname));
  return names.filter((n) => !existing.has(n));
}

/**
 * Creates `roles` (missing on this server) with their recorded attributes and NO password, then
 * their memberships among the recorded roles. Needs a superuser or CREATEROLE. Returns the names.
 */
export async function createRoles(
  client: pg.Client,
  roles: readonly RoleEntry[],
  all: readonly RoleEntry[],
): Promise<string[]> {
  const flag = (on: boolean, name: string) => (on ? name : `NO${name}`);
  for (const r of roles) {
    const attributes = [
      flag(r.login, "LOGIN"),
      flag(r.inherit, "INHERIT"),
      flag(r.createdb, "CREATEDB"),
      flag(r.createrole, "CREATEROLE"),
      flag(r.replication, "REPLICATION"),
      flag(r.bypassrls, "BYPASSRLS"),
      `CONNECTION LIMIT ${r.connectionLimit}`,
    ];
    await client.query(`create role ${quoteIdentifier(r.name)} ${attributes.join(" ")}`);
  }
  const created = new Set(roles.map((r) => r.name));
  // Memberships of the new roles, and in them, as recorded (both ends exist by now).
  for (const r of all)
    for (const group of r.memberOf)
      if (created.has(r.name) || created.has(group))
        await client.query(`grant ${quoteIdentifier(group)} to ${quoteIdentifier(r.name)}`);
  return roles.map((r) => r.name);
}

/** The warning for roles a restore created: which, and how to give them passwords. */
export function createdRolesAdvice(names: readonly string[]): string {
  return (
    `created the role(s) ${names.map((n) => safeName(n)).join(", ")} the dump needs, without passwords (a backup never holds one); ` +
    `set one for each role that logs in: ALTER ROLE ${names[0] ? safeName(quoteIdentifier(names[0])) : "<role>"} PASSWORD '...'`
  );
}
