/**
 * What a restored staging database needs before it may be swapped in (or drilled), beyond what
 * pg_restore did:
 * - its subscriptions detached from their publisher: pg_dump writes them `connect = false` (so
 *   disabled) but with the source's slot name; enabled by anyone, a restored copy would consume
 *   the live source's slot on the publisher. Each is left disabled with `slot_name = NONE`;
 *   re-attaching one is a deliberate act (docs/RUNBOOK.md).
 * - planner statistics: pg_restore leaves none, and the application would start on bad plans.
 */
import type pg from "pg";
import { quoteIdentifier } from "../pg/sql-quote.js";
import { safeName } from "../output/format.js";
import type { Logger } from "../output/logger.js";
import { connectPg } from "../pg/connect.js";
import { withDatabase, type PgConnection } from "../pg/connection.js";
import { applyDatabaseProperties, type DatabaseProperties } from "../pg/database-properties.js";
import { withAdminClient } from "./database-staging.js";

/** Subscriptions defined in the database `client` is connected to. */
async function subscriptionsHere(client: pg.Client): Promise<string[]> {
  const result = await client.query<{ subname: string }>(
    "select subname from pg_subscription where subdbid = (select oid from pg_database where datname = current_database()) order by 1",
  );
  return result.rows.map((r) => r.subname);
}

/** Disables every subscription in `database` and detaches it from its slot; returns their names. */
export async function detachSubscriptions(connection: PgConnection, database: string): Promise<string[]> {
  const client = await connectPg(withDatabase(connection, database));
  try {
    const names = await subscriptionsHere(client);
    for (const name of names) {
      const sub = quoteIdentifier(name);
      await client.query(`alter subscription ${sub} disable`);
      await client.query(`alter subscription ${sub} set (slot_name = none)`);
    }
    return names;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Drops every subscription in `database` (detached first, so the publisher is never asked to
 * drop a slot): DROP DATABASE refuses a database that holds one, even WITH (FORCE).
 */
export async function dropSubscriptions(connection: PgConnection, database: string): Promise<void> {
  const client = await connectPg(withDatabase(connection, database));
  try {
    for (const name of await subscriptionsHere(client)) {
      const sub = quoteIdentifier(name);
      await client.query(`alter subscription ${sub} disable`);
      await client.query(`alter subscription ${sub} set (slot_name = none)`);
      await client.query(`drop subscription ${sub}`);
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** ANALYZE of the whole database; returns the seconds it took. */
export async function analyzeDatabase(connection: PgConnection, database: string): Promise<number> {
  const client = await connectPg(withDatabase(connection, database));
  const started = Date.now();
  try {
    await client.query("analyze");
    return (Date.now() - started) / 1000;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * The restore's last steps on its staging copy before the swap: says what restoreDatabasePart
 * did (ANALYZE's time, the subscriptions it detached) and applies the database's own
 * `properties` (the backup's; for a set that records none, the replaced database's). What
 * cannot be applied (a missing role, a privilege the restoring role lacks) is a warning each.
 */
export async function finishStaging(
  connection: PgConnection,
  staging: string,
  target: string,
  restored: { analyzeSeconds: number; subscriptions: string[] },
  properties: DatabaseProperties | undefined,
  log: Logger,
): Promise<void> {
  log.info({ stage: "analyze", seconds: restored.analyzeSeconds }, "planner statistics gathered (ANALYZE)");
  if (restored.subscriptions.length)
    log.warn(
      { stage: "subscriptions", subscriptions: restored.subscriptions.map(safeName) },
      `restored ${restored.subscriptions.length} subscription(s) disabled and without a replication slot (docs/RUNBOOK.md says how to re-attach one)`,
    );
  if (!properties) return;
  const skipped = await withAdminClient(connection, (c) => applyDatabaseProperties(c, staging, properties), [target]);
  for (const why of skipped)
    log.warn({ stage: "database-properties", problem: why }, `a database property was not applied: ${why}`);
}
