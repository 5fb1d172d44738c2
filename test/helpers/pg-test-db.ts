// Per-test databases on the shared cluster, plus fingerprints of a database's contents so a test
// can assert that a restore reproduced the source exactly. No vitest imports.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { connectionEnv, connectionUrl, type PgConnectionInfo } from "./pg-cluster.js";

export interface TestDatabase {
  name: string;
  url: string;
  env: Record<string, string>;
  /** Drops the database, disconnecting any session still using it. */
  drop(): Promise<void>;
}

export interface TableChecksum {
  schema: string;
  table: string;
  rows: number;
  md5: string;
}

export interface SequenceValue {
  schema: string;
  sequence: string;
  /** As text (bigint); null when nextval was never called. */
  lastValue: string | null;
}

export interface LargeObjectChecksum {
  oid: number;
  bytes: number;
  md5: string;
}

/** Runs one statement (or, without params, a semicolon-separated script) on a fresh connection. */
export async function sql<R extends pg.QueryResultRow = pg.QueryResultRow>(
  url: string,
  text: string,
  params?: unknown[],
): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const res = await client.query<R>(text, params);
    // A multi-statement script yields an array of results; callers of scripts want the last one.
    const last: pg.QueryResult<R> = Array.isArray(res) ? (res as pg.QueryResult<R>[]).at(-1)! : res;
    return last?.rows ?? [];
  } finally {
    await client.end();
  }
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A database name unique per call: prefix (sanitised) + time + randomness, within 63 bytes. */
function uniqueName(prefix: string): string {
  const clean =
    prefix
      .toLowerCase()
      .replace(/[^a-z0-9_]+/g, "_")
      .replace(/^_+|_+$/g, "") || "test";
  const suffix = `${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`;
  return `${clean.slice(0, 63 - suffix.length - 1)}_${suffix}`;
}

export async function createTestDatabase(conn: PgConnectionInfo, prefix: string): Promise<TestDatabase> {
  const name = uniqueName(prefix);
  const adminUrl = connectionUrl(conn, "postgres");
  await sql(adminUrl, `CREATE DATABASE ${quoteIdent(name)}`);
  return {
    name,
    url: connectionUrl(conn, name),
    env: connectionEnv(conn, name),
    // WITH (FORCE) (PostgreSQL 13+): a test that leaked a connection must not block cleanup.
    drop: async () => {
      await sql(adminUrl, `DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
    },
  };
}

/**
 * Session settings that make the text form of every value independent of the server's defaults,
 * so checksums taken on the source and on a restore in another cluster can be compared.
 */
const STABLE_TEXT_SETTINGS = `
  SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres';
  SET extra_float_digits = 1; SET bytea_output = 'hex';`;

async function withStableSession<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(STABLE_TEXT_SETTINGS);
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * Row count and md5 of all rows of every user table (ordinary tables and partitions; every
 * schema except pg_catalog, information_schema and the pg_toast / pg_temp ones), sorted by schema,
 * then table.
 * Rows are ordered by their text form under the "C" collation so the order does not depend on
 * the database's locale.
 */
export async function tableChecksums(url: string): Promise<TableChecksum[]> {
  return withStableSession(url, async (client) => {
    const tables = await client.query<{ schema: string; table: string }>(`
      SELECT n.nspname AS schema, c.relname AS table
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r'
        AND n.nspname NOT IN ('pg_catalog', 'information_schema')
        AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'`);
    const result: TableChecksum[] = [];
    for (const { schema, table } of tables.rows) {
      const r = await client.query<{ rows: string; md5: string }>(`
        SELECT count(*)::text AS rows,
               md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text COLLATE "C"), '')) AS md5
        FROM ${quoteIdent(schema)}.${quoteIdent(table)} t`);
      const row = r.rows[0]!;
      result.push({ schema, table, rows: Number(row.rows), md5: row.md5 });
    }
    return result.sort((a, b) => cmp(a.schema, b.schema) || cmp(a.table, b.table));
  });
}

/** last_value of every sequence, sorted by schema, sequence. */
export async function sequenceValues(url: string): Promise<SequenceValue[]> {
  const rows = await sql<{ schema: string; sequence: string; last_value: string | null }>(
    url,
    `SELECT schemaname AS schema, sequencename AS sequence, last_value::text AS last_value FROM pg_sequences`,
  );
  return rows
    .map((r) => ({ schema: r.schema, sequence: r.sequence, lastValue: r.last_value }))
    .sort((a, b) => cmp(a.schema, b.schema) || cmp(a.sequence, b.sequence));
}

/** Size and md5 of every large object (pg_dump keeps their OIDs, so compare by oid). */
export async function largeObjectChecksums(url: string): Promise<LargeObjectChecksum[]> {
  const rows = await sql<{ oid: string; bytes: number; md5: string }>(
    url,
    `SELECT oid::text AS oid, length(lo_get(oid))::int AS bytes, md5(lo_get(oid)) AS md5
     FROM pg_largeobject_metadata ORDER BY oid`,
  );
  return rows.map((r) => ({ oid: Number(r.oid), bytes: Number(r.bytes), md5: r.md5 }));
}

/** Plain code-unit comparison: stable across locales, unlike localeCompare. */
function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
