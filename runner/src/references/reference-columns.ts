/**
 * Database <-> media references, the database part: the configured columns are looked up in the
 * catalog (names passed as query parameters, never pasted into SQL), and their distinct paths are
 * read as the bytes the server stores. Both run on the caller's client, so a backup reads them in
 * the very snapshot pg_dump exports.
 */
import type pg from "pg";
import { quoteIdentifier } from "../pg/sql-quote.js";
import { formatMediaReferences, quoteReferenceName, type MediaReferenceColumn } from "../contract.js";
import type { PathSet } from "./media-paths.js";

/** A configured column as found in the catalog. */
export interface ResolvedColumn {
  schema: string;
  table: string;
  column: string;
}

interface CatalogRow {
  schema: string | null;
  table: string | null;
  column: string | null;
  type: string | null;
  category: string | null;
  readable: boolean | null;
}

// The schema is either given or the first schema of the search path holding the table, as an
// unqualified name in the application's own queries would resolve. Domains share their base
// type's category, so a domain over varchar counts as text.
const LOOKUP = `
  with s as (select $1::text as schema, $2::text as tbl, $3::text as col)
  select n.nspname as schema, c.relname as table, a.attname as column,
         format_type(a.atttypid, a.atttypmod) as type, t.typcategory as category,
         case when a.attname is null then null
              else has_column_privilege(c.oid, a.attnum, 'SELECT') end as readable
  from s
  left join pg_namespace n on n.nspname = coalesce(s.schema, n.nspname)
    and (s.schema is not null or n.nspname = any(current_schemas(false)))
  left join pg_class c on c.relnamespace = n.oid and c.relname = s.tbl and c.relkind in ('r', 'p', 'v', 'm', 'f')
  left join pg_attribute a on a.attrelid = c.oid and a.attname = s.col and a.attnum > 0 and not a.attisdropped
  left join pg_type t on t.oid = a.atttypid
  order by (c.oid is null), array_position(current_schemas(false), n.nspname) nulls last
  limit 1`;

/** Why a configured column cannot be used, or the column. */
async function lookUp(client: pg.Client, wanted: MediaReferenceColumn): Promise<ResolvedColumn | string> {
  const name = formatMediaReferences([wanted]);
  const { rows } = await client.query<CatalogRow>(LOOKUP, [wanted.schema ?? null, wanted.table, wanted.column]);
  const row = rows[0];
  if (wanted.schema !== undefined && !row?.schema) return `${name}: schema "${wanted.schema}" does not exist`;
  if (!row?.table)
    return `${name}: table "${wanted.table}" does not exist${wanted.schema === undefined ? " in the search path" : ""}`;
  const table = `${quoteReferenceName(row.schema!)}.${quoteReferenceName(row.table)}`;
  const where = `${table}.${quoteReferenceName(wanted.column)}`;
  if (!row.column) return `${name}: table ${table} has no column "${wanted.column}"`;
  if (row.category !== "S") return `${name}: column ${where} is of type ${row.type}, not a text column`;
  if (!row.readable) return `${name}: the backup role may not read column ${where} (grant SELECT on it)`;
  return { schema: row.schema!, table: row.table, column: row.column };
}

/** Every configured column looked up; the problems name each one that is not usable. */
export async function resolveReferenceColumns(
  client: pg.Client,
  wanted: readonly MediaReferenceColumn[],
): Promise<{ columns: ResolvedColumn[]; problems: string[] }> {
  const columns: ResolvedColumn[] = [];
  const problems: string[] = [];
  for (const w of wanted) {
    const found = await lookUp(client, w);
    if (typeof found === "string") problems.push(found);
    else columns.push(found);
  }
  return { columns, problems };
}

/**
 * Adds each column's distinct non-empty values to `into`, as the bytes the server stores
 * (textsend), so a path is compared with file names exactly, whatever the client encoding.
 */
export async function readReferencedPaths(
  client: pg.Client,
  columns: readonly ResolvedColumn[],
  into: PathSet,
): Promise<void> {
  for (const c of columns) {
    const col = quoteIdentifier(c.column);
    const { rows } = await client.query<{ path: Buffer }>(
      `select distinct textsend(${col}::text) as path from ${quoteIdentifier(c.schema)}.${quoteIdentifier(c.table)} where ${col} is not null and ${col}::text <> ''`,
    );
    for (const row of rows) into.add(row.path);
  }
}

/** The resolved columns as the manifest records them (always schema-qualified). */
export function columnNames(columns: readonly ResolvedColumn[]): string[] {
  return columns.map((c) => formatMediaReferences([c]));
}
