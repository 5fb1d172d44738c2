/**
 * What pg_dump will need to read and the role cannot: checked in the exporting transaction (so in
 * the dump's own snapshot) before pg_dump starts. Without it, the first table the role cannot
 * read fails the row count in that transaction, which ends the snapshot, and pg_dump reports only
 * "could not import the requested snapshot", naming neither the table nor the privilege.
 */
import pg from "pg";

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

/** One sentence per relation the current role cannot read, naming the missing privilege; empty when all are readable. */
export async function unreadableRelations(client: pg.Client): Promise<string[]> {
  const rows = await client.query<{ schema: string; name: string; kind: string; schema_usage: boolean }>(UNREADABLE);
  return rows.rows.map((r) => {
    const what = `${r.kind === "S" ? "sequence" : "table"} ${pg.escapeIdentifier(r.schema)}.${pg.escapeIdentifier(r.name)}`;
    return r.schema_usage ? `${what} (SELECT)` : `${what} (USAGE on schema ${pg.escapeIdentifier(r.schema)})`;
  });
}

/** The one message for a role that cannot read everything pg_dump needs. */
export function unreadableProblem(role: string, relations: readonly string[]): string {
  const shown = relations.slice(0, 10).join(", ");
  const more = relations.length > 10 ? ` and ${relations.length - 10} more` : "";
  return (
    `the database role "${role}" cannot read ${relations.length} relation(s) pg_dump needs: ${shown}${more}; ` +
    `grant the missing privileges (e.g. GRANT SELECT ON ALL TABLES IN SCHEMA ... TO ${pg.escapeIdentifier(role)}; ` +
    `GRANT USAGE ON SCHEMA ... TO ...) or back up with a role that owns the database`
  );
}
