/**
 * Before pg_restore: the roles and tablespaces the set recorded (pg/globals.ts) that this server
 * lacks. Missing roles are created without passwords when the restoring role may (a superuser or
 * CREATEROLE), and the run says which and how to set their passwords; when any tablespace is
 * missing, every object goes to the default one (pg_restore --no-tablespaces has no per-tablespace
 * form), with a warning naming the missing ones.
 */
import { errorMessage } from "../errors.js";
import { safeName } from "../output/format.js";
import type { Logger } from "../output/logger.js";
import type { DatabaseEntry } from "../catalog/manifest.js";
import type { PgConnection } from "../pg/connection.js";
import { createdRolesAdvice, createRoles, missingRoles, missingTablespaces } from "../pg/globals.js";
import { withAdminClient } from "./database-staging.js";

export interface PreparedGlobals {
  /** Roles this run created (without passwords). */
  createdRoles: string[];
  /** Some recorded tablespace is missing: restore everything into the default one. */
  noTablespaces: boolean;
}

export async function prepareGlobals(
  connection: PgConnection,
  entry: Pick<DatabaseEntry, "roles" | "tablespaces">,
  avoid: readonly string[],
  log: Logger,
): Promise<PreparedGlobals> {
  if (!entry.roles?.length && !entry.tablespaces?.length) return { createdRoles: [], noTablespaces: false };
  return withAdminClient(
    connection,
    async (client) => {
      const [me] = (
        await client.query<{ may: boolean }>(
          "select rolsuper or rolcreaterole as may from pg_roles where rolname = current_user",
        )
      ).rows;
      const roles = entry.roles ?? [];
      const missing = await missingRoles(client, roles);
      let createdRoles: string[] = [];
      const names = missing.map((r) => safeName(r.name)).join(", ");
      if (missing.length && me?.may) {
        try {
          createdRoles = await createRoles(client, missing, roles);
          log.warn({ stage: "roles", created: createdRoles.map(safeName) }, createdRolesAdvice(createdRoles));
        } catch (error) {
          log.warn(
            { stage: "roles", error: errorMessage(error) },
            `could not create the role(s) ${names} the dump needs (${errorMessage(error)}); their objects will belong to the restoring role`,
          );
        }
      } else if (missing.length)
        log.warn(
          { stage: "roles", missing: missing.map((r) => safeName(r.name)) },
          `this server lacks the role(s) ${names} the dump needs, and the restoring role may not create them (CREATEROLE); create them first (docs/RUNBOOK.md, "Restoring onto a new server")`,
        );
      const spaces = await missingTablespaces(client, entry.tablespaces ?? []);
      if (spaces.length)
        log.warn(
          { stage: "tablespaces", missing: spaces.map(safeName) },
          `this server lacks the tablespace(s) ${spaces.map(safeName).join(", ")}: every object goes to the default tablespace`,
        );
      return { createdRoles, noTablespaces: spaces.length > 0 };
    },
    avoid,
  );
}
