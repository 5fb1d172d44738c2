/**
 * A read-only REPEATABLE READ transaction that exports its snapshot for pg_dump (--snapshot) and
 * counts every table's rows in that same snapshot, so the manifest's counts describe exactly the
 * data in the dump, even while the application keeps writing.
 */
import pg from "pg";
import type { TableRowCount } from "../manifest.js";
import { clientConfig, type PgConnection } from "./connection.js";

export interface SnapshotSession {
  snapshotId: string;
  serverVersion: string;
  /** pg_database_size: the estimate used to size multipart parts. */
  databaseBytes: number;
  countRows(): Promise<TableRowCount[]>;
  /** Ends the transaction; call after pg_dump finished (or failed). */
  close(): Promise<void>;
}

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

export async function openSnapshotSession(connection: PgConnection): Promise<SnapshotSession> {
  const client = new pg.Client(clientConfig(connection));
  // A dropped connection must not crash the process; the next query reports it.
  client.on("error", () => undefined);
  await client.connect();
  try {
    await client.query("begin transaction isolation level repeatable read, read only");
    const snap = await client.query<{ id: string; version: string; size: string }>(
      "select pg_export_snapshot() as id, current_setting('server_version') as version, pg_database_size(current_database())::text as size",
    );
    const row = snap.rows[0]!;
    return {
      snapshotId: row.id,
      serverVersion: row.version.split(" ")[0]!,
      databaseBytes: Number(row.size),
      async countRows() {
        const tables = await client.query<{ schema: string; table: string }>(USER_TABLES);
        const counts: TableRowCount[] = [];
        for (const { schema, table } of tables.rows) {
          const ident = `${pg.escapeIdentifier(schema)}.${pg.escapeIdentifier(table)}`;
          const result = await client.query<{ n: string }>(`select count(*)::text as n from ${ident}`);
          counts.push({ schema, table, rows: Number(result.rows[0]!.n) });
        }
        return counts;
      },
      async close() {
        await client.query("commit").catch(() => undefined);
        await client.end().catch(() => undefined);
      },
    };
  } catch (error) {
    await client.end().catch(() => undefined);
    throw error;
  }
}
