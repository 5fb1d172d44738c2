/**
 * Who owns what a dump holds, and whether a restore can keep it that way. Owners are kept (no
 * pg_restore --no-owner) whenever the restoring role can set them: a superuser, or a member of
 * every owner role, each existing on the server. Otherwise every object goes to the restoring
 * role, which the restore says before its question; and a SECURITY DEFINER function is never
 * handed to another owner silently (it would run with that role's rights): the restore refuses
 * unless the operator allows it (--allow-owner-change).
 *
 * `ownershipPlan` is the one check of this, for the restore's preflight and the drill.
 */
import type pg from "pg";
import { z } from "zod";
import { safeName } from "../output/format.js";

export const definerSchema = z.object({ function: z.string(), owner: z.string() });
export type Definer = z.infer<typeof definerSchema>;

// Roles the database's objects depend on as owner (deptype 'o') or in an ACL ('a'), from
// pg_shdepend (which records neither for the bootstrap superuser, who exists on every server).
const OWNERS = `
  select distinct pg_get_userbyid(s.refobjid) as role
  from pg_shdepend s
  where s.refclassid = 'pg_authid'::regclass and s.deptype = 'o'
    and s.dbid = (select oid from pg_database where datname = current_database())
  order by 1`;

const DEFINERS = `
  select format('%s.%s(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)) as function,
         pg_get_userbyid(p.proowner) as owner
  from pg_proc p join pg_namespace n on n.oid = p.pronamespace
  where p.prosecdef and n.nspname not in ('pg_catalog', 'information_schema')
    and not exists (select 1 from pg_depend d where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')
  order by 1`;

/** The owner roles of the connected database's objects and its SECURITY DEFINER functions. */
export async function readOwnership(client: pg.Client): Promise<{ owners: string[]; definers: Definer[] }> {
  const owners = (await client.query<{ role: string }>(OWNERS)).rows.map((r) => r.role);
  const definers = (await client.query<Definer>(DEFINERS)).rows;
  return { owners, definers };
}

export interface OwnershipPlan {
  /** Restore with the dump's owners (no --no-owner). */
  keepOwners: boolean;
  /** The restoring role, which owns what is not kept. */
  restorer: string;
  /** Whether it is a superuser (only a superuser creates subscriptions). */
  superuser: boolean;
  /** Why owners cannot be kept, one sentence per role (empty when kept). */
  changes: string[];
  /** SECURITY DEFINER functions whose owner would change (empty when kept). */
  definers: Definer[];
  /** The set recorded no owners (made by an earlier runner): owners are not kept. */
  unrecorded: boolean;
}

/**
 * Whether the role `client` is connected as can keep `owners` (recorded at backup time) on its
 * server. `owners` undefined: a set of an earlier runner, restored as before (--no-owner).
 */
export async function ownershipPlan(
  client: pg.Client,
  recorded: { owners?: string[]; definers?: Definer[]; roles?: Array<{ name: string }> },
): Promise<OwnershipPlan> {
  const me = await client.query<{ restorer: string; superuser: boolean }>(
    "select current_user as restorer, rolsuper as superuser from pg_roles where rolname = current_user",
  );
  const { restorer, superuser } = me.rows[0]!;
  if (!recorded.owners) return { keepOwners: false, restorer, superuser, changes: [], definers: [], unrecorded: true };
  const rows = await client.query<{ role: string; found: boolean; member: boolean }>(
    `select r.role, exists (select 1 from pg_roles where rolname = r.role) as found,
            coalesce((select pg_has_role(current_user, oid, 'MEMBER') from pg_roles where rolname = r.role), false) as member
     from unnest($1::text[]) as r(role)`,
    [recorded.owners],
  );
  // A superuser's restore creates the recorded roles the server lacks (pg/globals.ts) first.
  const created = new Set(superuser ? (recorded.roles ?? []).map((r) => r.name) : []);
  const changes = rows.rows.flatMap((r) =>
    !r.found && !created.has(r.role)
      ? [`${safeName(r.role)} (does not exist on this server)`]
      : !superuser && !r.member
        ? [`${safeName(r.role)} (${safeName(restorer)} is not a member)`]
        : [],
  );
  const keepOwners = changes.length === 0;
  return {
    keepOwners,
    restorer,
    superuser,
    changes,
    definers: keepOwners ? [] : (recorded.definers ?? []).filter((d) => d.owner !== restorer),
    unrecorded: false,
  };
}

/** What the restore says before its question when owners change; empty when they are kept. */
export function ownershipPreamble(plan: OwnershipPlan): string[] {
  // Only a superuser creates subscriptions: pg_restore runs with --no-subscriptions otherwise.
  const subs = plan.superuser
    ? []
    : [`Subscriptions in the dump, if any, are not restored (only a superuser creates them).`];
  if (plan.keepOwners) return subs;
  if (plan.unrecorded)
    return [
      `This set does not record its objects' owners (an earlier runner made it): every restored object will belong to ${safeName(plan.restorer)}.`,
      ...subs,
    ];
  return [
    `Owners cannot be kept: objects owned by ${plan.changes.join(", ")} will belong to ${safeName(plan.restorer)} instead. Restore as a superuser or a member of those roles to keep them.`,
    ...subs,
  ];
}

/** The refusal for SECURITY DEFINER functions whose owner would change, or undefined. */
export function definerProblem(plan: OwnershipPlan): string | undefined {
  if (!plan.definers.length) return undefined;
  const list = plan.definers.map((d) => `${safeName(d.function)} (SECURITY DEFINER, owned by ${safeName(d.owner)})`);
  return (
    `refusing to change the owner of ${list.join(", ")} to ${safeName(plan.restorer)}: the function would run with ${safeName(plan.restorer)}'s rights. ` +
    `Restore as a superuser or a member of the owner roles, or pass --allow-owner-change to accept it`
  );
}
