/**
 * What the restoring role must be able to do, checked before anything is downloaded: a restore
 * that stages gigabytes and then fails with "must be owner of database" wastes the operator's
 * night, and one that succeeds with the wrong owners breaks the application ("permission denied").
 *
 * - create databases (the staging copy): CREATEDB;
 * - rename the live database away and drop the replaced copy later: own it (or be a member of its
 *   owner), plus CREATEDB (PostgreSQL's rule for ALTER DATABASE ... RENAME);
 * - set owners: the restored objects must belong to the roles that own the live ones today, so the
 *   role must be able to act as each of them (membership; a superuser can do all of this).
 *
 * One message names each missing privilege with the statement that grants it (run as a
 * superuser or the database's owner, e.g. `psql -U postgres`).
 */
import type pg from "pg";
import { quoteIdentifier } from "../pg/sql-quote.js";
import { connectPg } from "../pg/connect.js";
import { withDatabase, type PgConnection } from "../pg/connection.js";

interface RoleRow {
  rolname: string;
  rolsuper: boolean;
  rolcreatedb: boolean;
  target_owner: string | null;
  owns_target: boolean | null;
  target_connectable: boolean | null;
}

const ident = (name: string) => quoteIdentifier(name);

/** The roles owning the live database's schemas and relations, other than built-in ones. */
async function objectOwners(
  connection: PgConnection,
  target: string,
): Promise<Array<{ owner: string; member: boolean }>> {
  const client = await connectPg(withDatabase(connection, target));
  try {
    const result = await client.query<{ owner: string; member: boolean }>(
      `select o.rolname as owner, pg_has_role(current_user, o.oid, 'MEMBER') as member
         from (select nspowner as owner from pg_namespace
                where nspname not in ('pg_catalog', 'information_schema') and nspname not like 'pg\\_%'
               union
               select c.relowner from pg_class c join pg_namespace n on n.oid = c.relnamespace
                where n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\\_%') x
         join pg_roles o on o.oid = x.owner
        where o.rolname not like 'pg\\_%'
        order by 1`,
    );
    return result.rows;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * The message naming every privilege the restore into `target` lacks, each with its GRANT/ALTER
 * statement; undefined when the role can do it all. `client` is a session on the maintenance database.
 */
export async function restorePrivilegeProblem(
  client: pg.Client,
  connection: PgConnection,
  target: string,
): Promise<string | undefined> {
  const { role, missing } = await missingRestorePrivileges(client, connection, target);
  return missing.length
    ? restorePrivilegeMessage(role, target, missing, "nothing was downloaded or changed")
    : undefined;
}

/** Every privilege the restore into `target` lacks, each with its statement; empty when none. */
export async function missingRestorePrivileges(
  client: pg.Client,
  connection: PgConnection,
  target: string,
): Promise<{ role: string; missing: string[] }> {
  const { rows } = await client.query<RoleRow>(
    `select r.rolname, r.rolsuper, r.rolcreatedb,
            d.datdba::regrole::text as target_owner,
            pg_has_role(current_user, d.datdba, 'MEMBER') as owns_target,
            d.datallowconn as target_connectable
       from pg_roles r left join pg_database d on d.datname = $1
      where r.rolname = current_user`,
    [target],
  );
  const role = rows[0]!;
  if (role.rolsuper) return { role: role.rolname, missing: [] };
  const me = ident(role.rolname);
  const missing: string[] = [];
  if (!role.rolcreatedb)
    missing.push(`create databases (the staging copy, and the rename of "${target}"): ALTER ROLE ${me} CREATEDB;`);
  if (role.target_owner !== null && !role.owns_target)
    missing.push(
      `own the database "${target}" (to rename it away and drop the replaced copy; it belongs to ${role.target_owner}): ` +
        `ALTER DATABASE ${ident(target)} OWNER TO ${me};  (or GRANT ${ident(role.target_owner)} TO ${me};)`,
    );
  if (role.target_owner !== null && role.target_connectable) {
    for (const { owner, member } of await objectOwners(connection, target))
      if (!member)
        missing.push(
          `set the owner ${owner} of the restored tables and schemas (they belong to it today): GRANT ${ident(owner)} TO ${me};`,
        );
  }
  return { role: role.rolname, missing };
}

/** The one message naming each missing privilege; `outcome` says what was (not) done. */
export function restorePrivilegeMessage(
  role: string,
  target: string,
  missing: readonly string[],
  outcome: string,
): string {
  return (
    `the role ${JSON.stringify(role)} cannot restore database "${target}"; ${outcome}. ` +
    `It must be able to:\n${missing.map((m) => `  - ${m}`).join("\n")}\n` +
    `Run these as a superuser (or restore as the application's owner role: DATABASE_URL / PGUSER, in the cluster ` +
    `database.restoreRole; docs/DEPLOY.md "Database roles")`
  );
}
