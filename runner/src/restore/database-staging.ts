/**
 * Database restores go into a staging database first and are swapped in by renaming only when
 * everything checked out (checksum, pg_restore's exit status, the manifest's row counts). Until
 * the rename the target is never touched; if anything fails, the staging copy is dropped and
 * the target is exactly as it was.
 */
import pg from "pg";
import { RunnerError } from "../errors.js";
import type { TableRowCount } from "../manifest.js";
import { childEnv, clientConfig, withDatabase, type PgConnection } from "../pg/connection.js";
import { countTableRows } from "../pg/row-counts.js";
import { pgBinary } from "../pg/versions.js";
import { spawnChildSink, type ChildSink } from "../stages/child-sink.js";

/** The database used for CREATE/ALTER/DROP DATABASE (never the one being replaced). */
export const MAINTENANCE_DB = "postgres";

export async function withAdminClient<T>(
  connection: PgConnection,
  work: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const client = new pg.Client(clientConfig(withDatabase(connection, MAINTENANCE_DB)));
  client.on("error", () => undefined);
  try {
    await client.connect();
  } catch (error) {
    throw new RunnerError(
      `could not connect to ${withDatabase(connection, MAINTENANCE_DB).display}: ${(error as Error).message}; the restore needs the server's "${MAINTENANCE_DB}" database and the CREATEDB privilege`,
    );
  }
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A name next to `base` that fits PostgreSQL's 63-byte limit. */
export function derivedDatabaseName(base: string, tag: string): string {
  const suffix = `__${tag}`;
  return `${Buffer.from(base)
    .subarray(0, 63 - suffix.length)
    .toString("utf8")
    .replace(/\uFFFD$/, "")}${suffix}`;
}

export async function databaseExists(client: pg.Client, name: string): Promise<boolean> {
  const result = await client.query("select 1 from pg_database where datname = $1", [name]);
  return result.rowCount === 1;
}

/** Other sessions connected to `name`: a rename would fail, and a restore under a live app is unsafe. */
export async function openConnections(client: pg.Client, name: string): Promise<number> {
  const result = await client.query<{ n: string }>(
    "select count(*)::text as n from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()",
    [name],
  );
  return Number(result.rows[0]!.n);
}

/** Disconnects other sessions and waits until they are gone (pg_terminate_backend only signals them). */
export async function terminateConnections(client: pg.Client, name: string, timeoutMs = 10_000): Promise<void> {
  await client.query(
    "select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()",
    [name],
  );
  const deadline = Date.now() + timeoutMs;
  while ((await openConnections(client, name)) > 0 && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 50));
}

export function connectionsProblem(name: string, count: number): string {
  return (
    `database ${name} has ${count} open connection(s); stop the application first ` +
    `(e.g. kubectl scale deployment/<app> --replicas=0) or pass --terminate-connections`
  );
}

export async function createDatabase(connection: PgConnection, name: string): Promise<void> {
  await withAdminClient(connection, async (client) => {
    // template0: a restore must start from an empty database, not from template1's additions.
    await client.query(`create database ${pg.escapeIdentifier(name)} template template0`);
  });
}

export async function dropDatabase(connection: PgConnection, name: string): Promise<void> {
  await withAdminClient(connection, async (client) => {
    await client.query(`drop database if exists ${pg.escapeIdentifier(name)} with (force)`);
  });
}

/** pg_restore reading a custom-format dump on stdin into `database`. */
export function spawnPgRestore(connection: PgConnection, database: string, binDir?: string): ChildSink {
  return spawnChildSink(
    pgBinary("pg_restore", binDir),
    // Ownership is the restoring role's: the roles of the source server need not exist here.
    ["--dbname", database, "--no-owner", "--exit-on-error", "--no-password"],
    { label: "pg_restore", env: childEnv(withDatabase(connection, database)), secrets: connection.secrets },
  );
}

export async function countRowsIn(connection: PgConnection, database: string): Promise<TableRowCount[]> {
  const client = new pg.Client(clientConfig(withDatabase(connection, database)));
  client.on("error", () => undefined);
  await client.connect();
  try {
    return await countTableRows(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export interface DatabaseSwap {
  /** Drops the previous contents (after every other part of the restore succeeded). */
  commit(): Promise<void>;
  /** Puts the previous database back under its name. */
  rollback(): Promise<void>;
}

/** Renames `staging` to `target`, keeping the old target under a side name until commit. */
export async function swapInDatabase(
  connection: PgConnection,
  staging: string,
  target: string,
  tag: string,
  terminate: boolean,
): Promise<DatabaseSwap> {
  const old = derivedDatabaseName(target, `old_${tag}`);
  return withAdminClient(connection, async (client) => {
    const existed = await databaseExists(client, target);
    if (existed) {
      if (terminate) await terminateConnections(client, target);
      const open = await openConnections(client, target);
      if (open > 0) throw new RunnerError(connectionsProblem(target, open));
      await client.query(`alter database ${pg.escapeIdentifier(target)} rename to ${pg.escapeIdentifier(old)}`);
    }
    try {
      await client.query(`alter database ${pg.escapeIdentifier(staging)} rename to ${pg.escapeIdentifier(target)}`);
    } catch (error) {
      if (existed)
        await client.query(`alter database ${pg.escapeIdentifier(old)} rename to ${pg.escapeIdentifier(target)}`);
      throw error;
    }
    return {
      commit: async () => {
        if (existed) await dropDatabase(connection, old);
      },
      rollback: async () => {
        await withAdminClient(connection, async (c) => {
          await c.query(`alter database ${pg.escapeIdentifier(target)} rename to ${pg.escapeIdentifier(staging)}`);
          if (existed)
            await c.query(`alter database ${pg.escapeIdentifier(old)} rename to ${pg.escapeIdentifier(target)}`);
        });
        await dropDatabase(connection, staging);
      },
    };
  });
}
