/**
 * A read-only REPEATABLE READ transaction that exports its snapshot for pg_dump (--snapshot) and
 * counts every table's rows in that same snapshot, so the manifest's counts describe exactly the
 * data in the dump, even while the application keeps writing.
 */
import type pg from "pg";
import type { TableRowCount } from "../catalog/manifest.js";
import { connectPg } from "./connect.js";
import type { PgConnection } from "./connection.js";
import { RunnerError } from "../errors.js";
import { unreadableProblem, unreadableRelations } from "./read-privileges.js";
import { countTableRows } from "./row-counts.js";

export interface SnapshotSession {
  snapshotId: string;
  serverVersion: string;
  /** pg_database_size: the estimate used to size multipart parts. */
  databaseBytes: number;
  countRows(): Promise<TableRowCount[]>;
  /** Runs queries in the exporting transaction, i.e. in exactly the snapshot pg_dump reads. */
  inSnapshot<T>(work: (client: pg.Client) => Promise<T>): Promise<T>;
  /** Ends the transaction; call after pg_dump finished (or failed). */
  close(): Promise<void>;
}

export async function openSnapshotSession(connection: PgConnection): Promise<SnapshotSession> {
  const client = await connectPg(connection);
  try {
    await client.query("begin transaction isolation level repeatable read, read only");
    const snap = await client.query<{ id: string; version: string; size: string }>(
      "select pg_export_snapshot() as id, current_setting('server_version') as version, pg_database_size(current_database())::text as size",
    );
    const row = snap.rows[0]!;
    // In this transaction, i.e. the snapshot pg_dump will import: a grant in between cannot differ.
    const unreadable = await unreadableRelations(client);
    if (unreadable.length) {
      const role = await client.query<{ role: string }>("select current_user as role");
      throw new RunnerError(unreadableProblem(role.rows[0]!.role, unreadable));
    }
    // One query at a time on the one connection that holds the snapshot (node-postgres no longer
    // queues overlapping queries for us): counts, references and migrations run in turn.
    let queue: Promise<unknown> = Promise.resolve();
    const serial = <T>(work: (c: pg.Client) => Promise<T>): Promise<T> => {
      const next = queue.then(() => work(client));
      queue = next.catch(() => undefined);
      return next;
    };
    return {
      snapshotId: row.id,
      serverVersion: row.version.split(" ")[0]!,
      databaseBytes: Number(row.size),
      countRows: () => serial(countTableRows),
      inSnapshot: serial,
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
