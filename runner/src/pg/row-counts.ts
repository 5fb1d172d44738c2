import type pg from "pg";
import { quoteIdentifier } from "./sql-quote.js";
import { qualifiedName } from "../output/format.js";
import type { TableRowCount } from "../catalog/manifest.js";

// Leaf tables only (a partitioned parent's count would repeat its partitions), excluding the
// system schemas and tables that belong to extensions (pg_dump leaves those out too).
const USER_TABLES = `
  select n.nspname as schema, c.relname as table
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where c.relkind = 'r'
    and n.nspname not in ('pg_catalog', 'information_schema')
    and n.nspname not like 'pg\\_toast%' and n.nspname not like 'pg\\_temp%'
    and not exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e')
  order by 1, 2`;

/**
 * Every user table's row count, in the client's current transaction (and so its snapshot): each
 * table's own rows (ONLY), or with `inherited`, an inheritance parent's children's rows too (as
 * runners before manifest field rowCounting counted them, so their sets are checked the same way).
 */
export async function countTableRows(client: pg.Client, inherited = false): Promise<TableRowCount[]> {
  const tables = await client.query<{ schema: string; table: string }>(USER_TABLES);
  const counts: TableRowCount[] = [];
  for (const { schema, table } of tables.rows) {
    const ident = `${quoteIdentifier(schema)}.${quoteIdentifier(table)}`;
    // ONLY: an inheritance parent's own rows (pg_dump's TABLE DATA for it holds just those).
    const result = await client.query<{ n: string }>(
      `select count(*)::text as n from ${inherited ? "" : "only "}${ident}`,
    );
    counts.push({ schema, table, rows: Number(result.rows[0]!.n) });
  }
  return counts;
}

/** Differences between two sets of counts, as sentences; empty when they agree. */
export function rowCountDifferences(
  expected: readonly TableRowCount[],
  actual: readonly TableRowCount[],
  /** Where `expected` comes from, in the messages. */
  source = "the manifest",
): string[] {
  const key = (t: TableRowCount) => JSON.stringify([t.schema, t.table]);
  const got = new Map(actual.map((t) => [key(t), t]));
  const problems: string[] = [];
  for (const t of expected) {
    const rows = got.get(key(t))?.rows;
    const name = qualifiedName(t.schema, t.table);
    if (rows === undefined) problems.push(`table ${name} is missing (${source}: ${t.rows} rows)`);
    else if (rows !== t.rows) problems.push(`table ${name} has ${rows} rows, ${source} says ${t.rows}`);
    got.delete(key(t));
  }
  for (const t of got.values())
    problems.push(`table ${qualifiedName(t.schema, t.table)} (${t.rows} rows) is not in ${source}`);
  return problems;
}
