import type pg from "pg";
import { connectPg } from "../pg/connect.js";
import { withDatabase, type PgConnection } from "../pg/connection.js";
import { appliedMigrations, describeDrift, migrationDrift, type MigrationState } from "./migrations.js";

/**
 * What a restore says before it asks: how the backup's Django migrations relate to the live
 * target database's. Empty when they agree, when the backup recorded none, or when there is no
 * live database (or no django_migrations in it) to compare with.
 */
export async function migrationPreamble(
  connection: PgConnection,
  target: string,
  backup: MigrationState | undefined,
): Promise<string[]> {
  if (!backup) return [];
  let client: pg.Client;
  try {
    client = await connectPg(withDatabase(connection, target));
  } catch {
    // No live database (or no access to it yet): the restore's own checks report what matters.
    return [];
  }
  try {
    const live = await appliedMigrations(client);
    return live ? describeDrift(migrationDrift(backup, live)) : [];
  } finally {
    await client.end().catch(() => undefined);
  }
}
