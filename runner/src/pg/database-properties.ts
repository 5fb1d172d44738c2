/**
 * A database's own properties, which pg_restore (without --create) never restores: its owner,
 * ALTER DATABASE ... SET settings, per-role settings in it (ALTER ROLE ... IN DATABASE ... SET),
 * its ACL (a REVOKE CONNECT ... FROM PUBLIC), its connection limit and comment. Read from the
 * catalogs at backup time, recorded in the manifest, applied to the staging database before the
 * swap (the backup's properties win, also in place: a restore reproduces the database as it was
 * backed up; see README, "What a backup set does not hold").
 */
import type pg from "pg";
import { quoteIdentifier, quoteLiteral } from "./sql-quote.js";
import { z } from "zod";
import { safeName } from "../output/format.js";

export const databasePropertiesSchema = z.object({
  owner: z.string(),
  /** -1: no limit. */
  connectionLimit: z.number().int(),
  comment: z.string().nullable(),
  /** null: the default ACL (PUBLIC may connect and create temporary tables). */
  acl: z.array(z.object({ grantee: z.string().nullable(), privilege: z.string(), grantable: z.boolean() })).nullable(),
  /** "name=value" as pg_db_role_setting keeps them; role null: the database's own. */
  settings: z.array(z.object({ role: z.string().nullable(), settings: z.array(z.string()) })),
});
export type DatabaseProperties = z.infer<typeof databasePropertiesSchema>;

const READ = `
  select pg_get_userbyid(d.datdba) as owner, d.datconnlimit as "connectionLimit",
         shobj_description(d.oid, 'pg_database') as comment,
         case when d.datacl is null then null else coalesce((
           select json_agg(json_build_object('grantee', case when a.grantee = 0 then null else pg_get_userbyid(a.grantee) end,
                                             'privilege', a.privilege_type, 'grantable', a.is_grantable)
                           order by a.grantee, a.privilege_type)
           from aclexplode(d.datacl) a), '[]'::json) end as acl,
         coalesce((
           select json_agg(json_build_object('role', case when s.setrole = 0 then null else pg_get_userbyid(s.setrole) end,
                                             'settings', s.setconfig) order by s.setrole)
           from pg_db_role_setting s where s.setdatabase = d.oid), '[]'::json) as settings
  from pg_database d where d.datname = $1`;

/** The properties of `database` as the catalogs say (undefined when it does not exist). */
export async function readDatabaseProperties(
  client: pg.Client,
  database: string,
): Promise<DatabaseProperties | undefined> {
  const result = await client.query(READ, [database]);
  return result.rows[0] ? databasePropertiesSchema.parse(result.rows[0]) : undefined;
}

// Settings whose value is a list of possibly quoted elements (PostgreSQL's GUC_LIST_QUOTE): set
// element by element, as pg_dumpall does, or "app, public" would become one quoted name.
const LIST_SETTINGS = new Set([
  "local_preload_libraries",
  "search_path",
  "session_preload_libraries",
  "shared_preload_libraries",
  "temp_tablespaces",
  "unix_socket_directories",
]);

/** Splits a list setting's value as PostgreSQL's SplitGUCList does: commas, "quoted" elements. */
export function splitListSetting(value: string): string[] {
  const out: string[] = [];
  let i = 0;
  const skipSpace = () => {
    while (i < value.length && /\s/.test(value[i]!)) i++;
  };
  skipSpace();
  while (i < value.length) {
    let item = "";
    if (value[i] === '"') {
      i++;
      for (; i < value.length; i++) {
        if (value[i] === '"') {
          if (value[i + 1] === '"') {
            item += '"';
            i++;
          } else break;
        } else item += value[i];
      }
      i++;
    } else {
      while (i < value.length && value[i] !== "," && !/\s/.test(value[i]!)) item += value[i++];
    }
    out.push(item);
    skipSpace();
    if (value[i] === ",") i++;
    skipSpace();
  }
  return out;
}

/** `name = value` for ALTER ... SET, the value quoted as a literal (each element of a list setting). */
export function settingClause(setting: string): string {
  const eq = setting.indexOf("=");
  const name = setting.slice(0, eq);
  const value = setting.slice(eq + 1);
  const values = LIST_SETTINGS.has(name.toLowerCase()) ? splitListSetting(value) : [value];
  return `${quoteIdentifier(name)} = ${values.map((v) => quoteLiteral(v)).join(", ")}`;
}

/** One line per property, for the restore's summary. */
export function describeProperties(p: DatabaseProperties): string[] {
  const lines = [`owner ${safeName(p.owner)}`];
  for (const s of p.settings)
    for (const setting of s.settings)
      lines.push(s.role === null ? safeName(setting) : `${safeName(s.role)}: ${safeName(setting)}`);
  if (p.acl) {
    const grants = new Map<string, string[]>();
    for (const a of p.acl) {
      const who = a.grantee === null ? "PUBLIC" : safeName(a.grantee);
      grants.set(who, [...(grants.get(who) ?? []), a.privilege + (a.grantable ? "*" : "")]);
    }
    lines.push(
      `access ${[...grants].map(([who, privs]) => `${who}: ${privs.join(" ")}`).join("; ") || "none"}${grants.has("PUBLIC") ? "" : " (not PUBLIC)"}`,
    );
  }
  if (p.connectionLimit >= 0) lines.push(`connection limit ${p.connectionLimit}`);
  if (p.comment !== null) lines.push(`comment ${JSON.stringify(safeName(p.comment))}`);
  return lines;
}

/**
 * Applies `p` to `database` (connected elsewhere: a maintenance database). What the restoring
 * role cannot apply (a role that does not exist here, a privilege it lacks) is skipped and
 * returned as a sentence each; the rest is applied.
 */
export async function applyDatabaseProperties(
  client: pg.Client,
  database: string,
  p: DatabaseProperties,
): Promise<string[]> {
  const db = quoteIdentifier(database);
  const skipped: string[] = [];
  const existing = new Set(
    (await client.query<{ rolname: string }>("select rolname from pg_roles")).rows.map((r) => r.rolname),
  );
  const run = async (what: string, statement: string) => {
    try {
      await client.query(statement);
    } catch (error) {
      skipped.push(`${what}: ${(error as Error).message}`);
    }
  };
  const missing = (role: string | null, what: string) => {
    if (role === null || existing.has(role)) return false;
    skipped.push(`${what}: role ${safeName(role)} does not exist on this server`);
    return true;
  };
  for (const s of p.settings) {
    if (missing(s.role, "setting")) continue;
    for (const setting of s.settings)
      await run(
        `setting ${safeName(setting)}`,
        s.role === null
          ? `alter database ${db} set ${settingClause(setting)}`
          : `alter role ${quoteIdentifier(s.role)} in database ${db} set ${settingClause(setting)}`,
      );
  }
  if (p.comment !== null) await run("comment", `comment on database ${db} is ${quoteLiteral(p.comment)}`);
  if (p.connectionLimit >= 0)
    await run("connection limit", `alter database ${db} connection limit ${p.connectionLimit}`);
  if (!missing(p.owner, "owner")) await run("owner", `alter database ${db} owner to ${quoteIdentifier(p.owner)}`);
  if (p.acl) {
    // From nothing to exactly the recorded entries (the owner's own included).
    const owner = existing.has(p.owner) ? `, ${quoteIdentifier(p.owner)}` : "";
    await run("access", `revoke all on database ${db} from public${owner}`);
    for (const a of p.acl) {
      if (missing(a.grantee, `grant ${a.privilege}`)) continue;
      const to = a.grantee === null ? "public" : quoteIdentifier(a.grantee);
      await run(
        `grant ${a.privilege}`,
        `grant ${a.privilege} on database ${db} to ${to}${a.grantable ? " with grant option" : ""}`,
      );
    }
  }
  return skipped;
}
