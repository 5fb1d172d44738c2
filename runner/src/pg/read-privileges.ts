/**
 * What pg_dump will need to read and the role cannot: checked in the exporting transaction (so in
 * the dump's own snapshot) before pg_dump starts. Without it, the first table the role cannot
 * read fails the row count in that transaction, which ends the snapshot, and pg_dump reports only
 * "could not import the requested snapshot", naming neither the table nor the privilege.
 */
import type pg from "pg";
import { quoteIdentifier } from "./sql-quote.js";
import { safeName } from "../output/format.js";

// Every schema pg_dump dumps by default and the relations whose data it reads: tables, partitions'
// leaves and sequences (their state), excluding extension members (not dumped) and system schemas.
const UNREADABLE = `
  select n.nspname as schema, c.relname as name, c.relkind as kind,
         has_schema_privilege(n.oid, 'USAGE') as schema_usage
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where c.relkind in ('r', 'S')
    and n.nspname not in ('pg_catalog', 'information_schema')
    and n.nspname not like 'pg\\_toast%' and n.nspname not like 'pg\\_temp%'
    and not exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e')
    and not (has_schema_privilege(n.oid, 'USAGE') and has_table_privilege(c.oid, 'SELECT'))
  order by 1, 2`;

// Tables row-level security applies to for this role: pg_dump runs with row_security = off, and
// then reading one is an error ("query would be affected by row-level security policy"). It
// applies unless the role is a superuser or has BYPASSRLS, or owns the table and it is not FORCEd.
const UNDER_RLS = `
  select n.nspname as schema, c.relname as name, c.relforcerowsecurity as forced
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where c.relkind in ('r', 'p') and c.relrowsecurity
    and n.nspname not in ('pg_catalog', 'information_schema')
    and not (select rolsuper or rolbypassrls from pg_roles where rolname = current_user)
    and (c.relforcerowsecurity or not pg_has_role(c.relowner, 'USAGE'))
  order by 1, 2`;

// Large objects pg_dump reads and the role may not (SELECT on each, unless lo_compat_privileges).
const UNREADABLE_LARGE_OBJECTS = `
  select count(*)::int as n from pg_largeobject_metadata m
  where not (select rolsuper from pg_roles where rolname = current_user)
    and current_setting('lo_compat_privileges') <> 'on'
    and not exists (
      select 1 from aclexplode(coalesce(m.lomacl, acldefault('L', m.lomowner))) a
      where a.privilege_type = 'SELECT' and (a.grantee = 0 or pg_has_role(a.grantee, 'USAGE')))`;

const ident = (name: string) => safeName(quoteIdentifier(name));

/** One sentence per relation the current role cannot read, naming the missing privilege; empty when all are readable. */
export async function unreadableRelations(client: pg.Client): Promise<string[]> {
  const rows = await client.query<{ schema: string; name: string; kind: string; schema_usage: boolean }>(UNREADABLE);
  const rls = await client.query<{ schema: string; name: string; forced: boolean }>(UNDER_RLS);
  const [lo] = (await client.query<{ n: number }>(UNREADABLE_LARGE_OBJECTS)).rows;
  return [
    ...rows.rows.map((r) => {
      const what = `${r.kind === "S" ? "sequence" : "table"} ${ident(r.schema)}.${ident(r.name)}`;
      return r.schema_usage ? `${what} (SELECT)` : `${what} (USAGE on schema ${ident(r.schema)})`;
    }),
    ...rls.rows.map(
      (r) =>
        `table ${ident(r.schema)}.${ident(r.name)} (row-level security${r.forced ? ", FORCEd" : ""}: BYPASSRLS${r.forced ? "" : " or ownership"})`,
    ),
    ...(lo && lo.n > 0
      ? [`${lo.n} large object(s) (SELECT on each, e.g. GRANT SELECT ON LARGE OBJECT <oid> TO ...)`]
      : []),
  ];
}

/** The one message for a role that cannot read everything pg_dump needs. */
export function unreadableProblem(role: string, relations: readonly string[]): string {
  const shown = relations.slice(0, 10).join(", ");
  const more = relations.length > 10 ? ` and ${relations.length - 10} more` : "";
  return (
    `the database role "${safeName(role)}" cannot read ${relations.length} relation(s) pg_dump needs: ${shown}${more}; ` +
    `grant the missing privileges (e.g. GRANT SELECT ON ALL TABLES IN SCHEMA ... TO ${quoteIdentifier(role)}; ` +
    `GRANT USAGE ON SCHEMA ... TO ...; ALTER ROLE ... BYPASSRLS for row-level security) or back up with a role that owns the database`
  );
}
