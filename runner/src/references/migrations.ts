/**
 * Django's schema state: the latest applied migration of each app (django_migrations), recorded
 * in the manifest, and held against the live database before a restore so the operator knows
 * whether to run `migrate` (or which release the backup belongs to).
 */
import type pg from "pg";

/** App label -> name of its latest applied migration. */
export type MigrationState = Record<string, string>;

/**
 * The latest applied migration per app, or null when the database has no django_migrations table
 * (not a Django database, or never migrated). "Latest" is the last one applied (highest id), which
 * is what Django itself ran last, whatever the names.
 */
export async function readMigrationState(client: pg.Client): Promise<MigrationState | null> {
  const applied = await appliedMigrations(client);
  if (!applied) return null;
  const state: MigrationState = {};
  for (const [app, names] of applied) state[app] = names.at(-1)!;
  return state;
}

/** Every applied migration per app, in the order they were applied; null without the table. */
export async function appliedMigrations(client: pg.Client): Promise<Map<string, string[]> | null> {
  const table = await client.query<{ t: string | null }>("select to_regclass('django_migrations')::text as t");
  if (!table.rows[0]?.t) return null;
  const { rows } = await client.query<{ app: string; name: string }>(
    "select app, name from django_migrations order by app, id",
  );
  const byApp = new Map<string, string[]>();
  for (const { app, name } of rows) {
    const list = byApp.get(app) ?? [];
    list.push(name);
    byApp.set(app, list);
  }
  return byApp;
}

export interface MigrationDrift {
  /** Apps where the live database has migrations the backup predates, with those migrations. */
  behind: Array<{ app: string; migrations: string[] }>;
  /** Apps where the backup has a migration the live database never applied. */
  ahead: Array<{ app: string; migration: string }>;
}

/** How the backup's schema state relates to the live database's applied migrations. */
export function migrationDrift(backup: MigrationState, live: ReadonlyMap<string, readonly string[]>): MigrationDrift {
  const drift: MigrationDrift = { behind: [], ahead: [] };
  const apps = [...new Set([...Object.keys(backup), ...live.keys()])].sort();
  for (const app of apps) {
    const latest = backup[app];
    const applied = live.get(app) ?? [];
    if (latest === undefined) {
      if (applied.length) drift.behind.push({ app, migrations: [...applied] });
      continue;
    }
    const at = applied.lastIndexOf(latest);
    if (at < 0) drift.ahead.push({ app, migration: latest });
    else if (at < applied.length - 1) drift.behind.push({ app, migrations: applied.slice(at + 1) });
  }
  return drift;
}

/** The restore preamble's sentences; empty when the schema states agree. */
export function describeDrift(drift: MigrationDrift): string[] {
  const lines: string[] = [];
  if (drift.behind.length)
    lines.push(
      `the backup predates migrations ${drift.behind.map((b) => `${b.app}: ${b.migrations.join(", ")}`).join("; ")} ` +
        "(applied in the live database): after the restore, run `manage.py migrate` with the current release, or deploy the release the backup was taken with",
    );
  if (drift.ahead.length)
    lines.push(
      `the backup is ahead of the live database for ${drift.ahead.map((a) => `${a.app} (${a.migration})`).join(", ")}: ` +
        "the running release does not know these migrations; deploy the release the backup was taken with",
    );
  return lines;
}
