/**
 * Database restores go into a staging database first and are swapped in by renaming only when
 * everything checked out (checksum, pg_restore's exit status, the manifest's row counts). Until
 * the rename the target is never touched; if anything fails, the staging copy is dropped and
 * the target is exactly as it was.
 */
import type pg from "pg";
import { quoteIdentifier } from "../pg/sql-quote.js";
import { copyDatabaseName } from "../contract.js";
import { PartialSwapError, RunnerError, errorMessage } from "../errors.js";
import type { TableRowCount } from "../catalog/manifest.js";
import { connectPg, PgConnectError } from "../pg/connect.js";
import { childEnv, withDatabase, type PgConnection } from "../pg/connection.js";
import { countTableRows } from "../pg/row-counts.js";
import { dropSubscriptions } from "./staging-fixups.js";
import { pgBinary } from "../pg/versions.js";
import type { PipelineStep } from "../stages/child-chain.js";
import { spawnSinkChain, type ChildSink } from "../stages/child-sink.js";

/**
 * The database the runner connects to for CREATE/ALTER/DROP DATABASE: never one it renames or
 * drops (PostgreSQL refuses both for the database a session is connected to). That is "postgres",
 * unless the restore replaces a database of that name (an application may well use it); then
 * template1, which every server has and accepts connections to. The session only runs DDL on
 * other databases; while it is connected, CREATE DATABASE ... TEMPLATE template1 by others waits.
 */
export function maintenanceDatabase(avoid: readonly string[] = []): string {
  return avoid.includes("postgres") ? "template1" : "postgres";
}

export async function withAdminClient<T>(
  connection: PgConnection,
  work: (client: pg.Client) => Promise<T>,
  avoid: readonly string[] = [],
): Promise<T> {
  const maintenance = withDatabase(connection, maintenanceDatabase(avoid));
  let client: pg.Client;
  try {
    client = await connectPg(maintenance);
  } catch (error) {
    // A TLS or network failure says all there is to say; a refusal by the server may be this.
    if (error instanceof PgConnectError && error.rejectedByServer)
      throw new RunnerError(
        `${error.message}; the restore needs the server's "${maintenance.database}" database and the CREATEDB privilege`,
      );
    throw error;
  }
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Why `name` cannot be restored over, or undefined: the server's templates (their copies are
 * every new database's starting point, and DROP DATABASE refuses them) and databases that accept
 * no connections.
 */
export async function targetDatabaseProblem(client: pg.Client, name: string): Promise<string | undefined> {
  const result = await client.query<{ datistemplate: boolean; datallowconn: boolean }>(
    "select datistemplate, datallowconn from pg_database where datname = $1",
    [name],
  );
  const row = result.rows[0];
  if (!row) return undefined;
  if (row.datistemplate)
    return `--target-db ${name}: is a template database; restore into another database (--target-db NAME)`;
  if (!row.datallowconn)
    return `--target-db ${name}: accepts no connections (datallowconn is false); restore elsewhere`;
  return undefined;
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

/**
 * Other sessions, once those already ending have gone: a client that just disconnected (the
 * application scaled down, a check that ran a moment ago) leaves its backend in pg_stat_activity
 * until the process exits. Sessions still there after `settleMs` are really open.
 */
export async function settledConnections(client: pg.Client, name: string, settleMs = 2_000): Promise<number> {
  const deadline = Date.now() + settleMs;
  for (;;) {
    const open = await openConnections(client, name);
    if (open === 0 || Date.now() >= deadline) return open;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Disconnects other sessions and waits until they are gone (pg_terminate_backend only signals them). */
export async function terminateConnections(client: pg.Client, name: string, timeoutMs = 10_000): Promise<void> {
  await client.query(
    "select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()",
    [name],
  );
  // The same wait as for sessions that were already closing: until none is left, or the timeout.
  await settledConnections(client, name, timeoutMs);
}

export function connectionsProblem(name: string, count: number): string {
  return (
    `database ${name} has ${count} open connection(s); stop the application first ` +
    `(e.g. kubectl scale deployment/<app> --replicas=0) or pass --terminate-connections`
  );
}

export async function createDatabase(connection: PgConnection, name: string): Promise<void> {
  await withAdminClient(
    connection,
    async (client) => {
      // template0: a restore must start from an empty database, not from template1's additions.
      await client.query(`create database ${quoteIdentifier(name)} template template0`);
    },
    [name],
  );
}

/** ALTER DATABASE ... RENAME, from a maintenance session that is in neither database. */
export async function renameDatabase(connection: PgConnection, from: string, to: string): Promise<void> {
  await withAdminClient(
    connection,
    async (client) => {
      await client.query(`alter database ${quoteIdentifier(from)} rename to ${quoteIdentifier(to)}`);
    },
    [from, to],
  );
}

/** Which of `names` exist on the server. */
export async function existingDatabases(connection: PgConnection, names: readonly string[]): Promise<Set<string>> {
  return withAdminClient(
    connection,
    async (client) => {
      const rows = await client.query<{ datname: string }>(
        "select datname from pg_database where datname = any($1::text[])",
        [names],
      );
      return new Set(rows.rows.map((r) => r.datname));
    },
    names,
  );
}

export async function setDatabaseOwner(connection: PgConnection, name: string, owner: string): Promise<void> {
  await withAdminClient(
    connection,
    async (client) => {
      await client.query(`alter database ${quoteIdentifier(name)} owner to ${quoteIdentifier(owner)}`);
    },
    [name],
  );
}

export async function dropDatabase(connection: PgConnection, name: string): Promise<void> {
  await withAdminClient(
    connection,
    async (client) => {
      // A restored subscription would make DROP DATABASE fail, even WITH (FORCE).
      const subs = await client.query(
        "select 1 from pg_subscription s join pg_database d on d.oid = s.subdbid where d.datname = $1",
        [name],
      );
      if (subs.rowCount) await dropSubscriptions(connection, name);
      await client.query(`drop database if exists ${quoteIdentifier(name)} with (force)`);
    },
    [name],
  );
}

/** What pg_restore restores beyond the data: owners, subscriptions, tablespaces. */
export interface RestoreObjectOptions {
  /** Keep the dump's owners (no --no-owner): see pg/owners.ts. */
  keep: boolean;
  /** Restore subscriptions (only a superuser can). */
  subscriptions: boolean;
  /** A tablespace the dump names is missing here: everything goes to the default one. */
  noTablespaces?: boolean;
}

/**
 * pg_restore reading a custom-format dump into `database`: from a verified scratch copy `file`
 * with `jobs` parallel jobs (which pg_restore can only do from a file), or on stdin behind the
 * `decode` steps (zstd -d), joined to it by an OS pipe so the decoded dump never passes through
 * the runner: the runner writes the stored bytes (hashed on the way) into the first step.
 */
export function spawnPgRestore(
  connection: PgConnection,
  database: string,
  binDir: string | undefined,
  input: { file: string; jobs: number } | { decode: readonly PipelineStep[] },
  onWarning?: (warning: string) => void,
  owners: RestoreObjectOptions = { keep: false, subscriptions: true },
): ChildSink {
  const fromFile = "file" in input ? input : undefined;
  const pgRestore: PipelineStep = {
    command: pgBinary("pg_restore", binDir),
    // Owners are kept when the restoring role can set them (ownershipPlan); otherwise every
    // object is the restoring role's. Subscriptions need a superuser to be created at all.
    args: [
      "--dbname",
      database,
      ...(owners.keep ? [] : ["--no-owner"]),
      ...(owners.subscriptions ? [] : ["--no-subscriptions"]),
      ...(owners.noTablespaces ? ["--no-tablespaces"] : []),
      "--exit-on-error",
      "--no-password",
      ...(fromFile ? [`--jobs=${fromFile.jobs}`, "--", fromFile.file] : []),
    ],
    options: {
      label: "pg_restore",
      env: childEnv(withDatabase(connection, database)),
      secrets: connection.secrets,
      onWarning,
    },
  };
  return spawnSinkChain([...("decode" in input ? input.decode : []), pgRestore]);
}

export async function countRowsIn(
  connection: PgConnection,
  database: string,
  inherited = false,
): Promise<TableRowCount[]> {
  const client = await connectPg(withDatabase(connection, database));
  try {
    return await countTableRows(client, inherited);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export interface DatabaseSwap {
  /** The previous database's name until commit (absent when the target did not exist). */
  previous?: string;
  /** Drops the previous contents (after every other part of the restore succeeded). */
  commit(): Promise<void>;
  /**
   * Puts the previous database back under its name, and the swapped-in one back under the name it
   * had (`staging`). It drops nothing: that copy may be the only one of its data (an undo swaps in
   * a kept copy); the caller drops it when it is a staging copy of its own run.
   */
  rollback(): Promise<void>;
}

/**
 * Renames `staging` to `target`, keeping the old target under its previous-copy name until commit.
 * `between` runs between the two renames (a fault point of the undo's tests); when it throws, the
 * first rename is undone like a failed second one.
 */
export async function swapInDatabase(
  connection: PgConnection,
  staging: string,
  target: string,
  runId: string,
  terminate: boolean,
  between?: () => Promise<void>,
): Promise<DatabaseSwap> {
  const previous = copyDatabaseName("previous", target, runId);
  const rename = (c: pg.Client, from: string, to: string) =>
    c.query(`alter database ${quoteIdentifier(from)} rename to ${quoteIdentifier(to)}`);
  const admin = <T>(work: (client: pg.Client) => Promise<T>) => withAdminClient(connection, work, [target]);
  return admin(async (client) => {
    const existed = await databaseExists(client, target);
    if (existed) {
      if (terminate) await terminateConnections(client, target);
      const open = await settledConnections(client, target);
      if (open > 0) throw new RunnerError(connectionsProblem(target, open));
      await rename(client, target, previous);
    }
    try {
      await between?.();
      await rename(client, staging, target);
    } catch (error) {
      if (existed)
        await rename(client, previous, target).catch((back: unknown) => {
          throw new PartialSwapError(
            `could not rename the restored database to ${target} (${errorMessage(error)}) nor the previous one back (${errorMessage(back)}): the previous database is named ${previous}; rename it back with ALTER DATABASE ${quoteIdentifier(previous)} RENAME TO ${quoteIdentifier(target)}`,
          );
        });
      throw error;
    }
    return {
      previous: existed ? previous : undefined,
      commit: async () => {
        if (existed) await dropDatabase(connection, previous);
      },
      rollback: async () => {
        await admin(async (c) => {
          await rename(c, target, staging);
          if (existed) await rename(c, previous, target);
        });
      },
    };
  });
}
