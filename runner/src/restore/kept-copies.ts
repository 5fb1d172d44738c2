/**
 * What a restore keeps for an undo: the replaced database and media folder under the contract's
 * previous-copy names, and a marker object in the destination describing them (row counts, file
 * tally) so an undo can verify them before swapping and `status` can list them without reaching
 * the database or the media. Finding copies on the server and the volume is by name pattern only.
 */
import { readdir } from "node:fs/promises";
import path from "node:path";
import { text } from "node:stream/consumers";
import type pg from "pg";
import { z } from "zod";
import { backupIdTime } from "../backup-id.js";
import {
  COPY_DATABASE_RE,
  COPY_FOLDER_RE,
  RESTORE_MARKERS_PREFIX,
  keptMarkerKey,
  releasedMarkerKey,
  type CopyKind,
} from "../contract.js";
import { tableRowCountSchema } from "../manifest.js";
import type { PgConnection } from "../pg/connection.js";
import type { ObjectStore } from "../store/object-store.js";
import { withAdminClient } from "./database-staging.js";

export const keptRecordSchema = z.object({
  formatVersion: z.literal(1),
  runId: z.string(),
  keptAt: z.iso.datetime(),
  keepUntil: z.iso.datetime(),
  /** What replaced the kept copies: a backup set, or an undo. */
  replacedBy: z.string(),
  database: z
    .object({
      target: z.string(),
      previous: z.string(),
      tables: z.array(tableRowCountSchema),
    })
    .nullable(),
  media: z
    .object({
      target: z.string(),
      previous: z.string(),
      layout: z.enum(["beside", "inside"]),
      files: z.number().int().nonnegative(),
      sourceBytes: z.number().int().nonnegative(),
    })
    .nullable(),
});
export type KeptRecord = z.infer<typeof keptRecordSchema>;

const releasedSchema = z.object({
  formatVersion: z.literal(1),
  runId: z.string(),
  releasedAt: z.iso.datetime(),
  by: z.enum(["cleanup", "undo-restore", "restore"]),
});

export async function writeKeptMarker(store: ObjectStore, record: KeptRecord): Promise<void> {
  await store.putSmall(keptMarkerKey(record.runId), `${JSON.stringify(keptRecordSchema.parse(record), null, 2)}\n`, {
    contentType: "application/json",
  });
}

export async function writeReleasedMarker(
  store: ObjectStore,
  runId: string,
  by: z.infer<typeof releasedSchema>["by"],
): Promise<void> {
  const body = releasedSchema.parse({ formatVersion: 1, runId, releasedAt: new Date().toISOString(), by });
  await store.putSmall(releasedMarkerKey(runId), `${JSON.stringify(body)}\n`, { contentType: "application/json" });
}

/** Kept records whose copies no marker says were released, newest first. */
export async function openKeptRecords(store: ObjectStore): Promise<KeptRecord[]> {
  const kept = new Map<string, string>();
  const released = new Set<string>();
  for await (const object of store.list(`${RESTORE_MARKERS_PREFIX}/`)) {
    const name = object.key.slice(RESTORE_MARKERS_PREFIX.length + 1);
    const m = /^(.+)\.(kept|released)\.json$/.exec(name);
    if (!m) continue;
    if (m[2] === "kept") kept.set(m[1]!, object.key);
    else released.add(m[1]!);
  }
  const records: KeptRecord[] = [];
  for (const [runId, key] of kept) {
    if (released.has(runId)) continue;
    const parsed = keptRecordSchema.safeParse(JSON.parse(await text(await store.get(key))));
    if (parsed.success) records.push(parsed.data);
  }
  return records.sort((a, b) => (a.runId < b.runId ? 1 : -1));
}

/** One copy the runner made, found by its name. */
export interface FoundCopy {
  kind: CopyKind;
  runId: string;
  /** When its run started (from the run id). */
  startedAt: Date;
  /** A database name or a folder path. */
  name: string;
  what: "database" | "folder";
}

/** The run id's time, or undefined for a name that is not one. */
function runTime(runId: string): Date | undefined {
  return backupIdTime(runId);
}

/**
 * The staging and previous databases of `target` on the server: names of the contract's patterns
 * whose base is `target` (or the start of it, when the name had to be shortened to 63 bytes).
 */
export async function findCopyDatabases(connection: PgConnection, target: string): Promise<FoundCopy[]> {
  return withAdminClient(
    connection,
    async (client: pg.Client) => {
      const { rows } = await client.query<{ datname: string }>("select datname from pg_database");
      const found: FoundCopy[] = [];
      for (const { datname } of rows)
        for (const kind of ["staging", "previous"] as const) {
          const m = COPY_DATABASE_RE[kind].exec(datname);
          const base = m?.groups?.base;
          const startedAt = m?.groups?.runId ? runTime(m.groups.runId) : undefined;
          if (!m || base === undefined || !startedAt) continue;
          if (base !== target && !(target.startsWith(base) && base.length > 0)) continue;
          found.push({ kind, runId: m.groups!.runId!, startedAt, name: datname, what: "database" });
        }
      return found;
    },
    [target],
  );
}

/** The staging and previous folders of the media folder `target`: beside it and inside it. */
export async function findCopyFolders(target: string): Promise<FoundCopy[]> {
  const found: FoundCopy[] = [];
  const look = async (dir: string, beside: boolean) => {
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names)
      for (const kind of ["staging", "previous"] as const) {
        const m = COPY_FOLDER_RE[kind].exec(name);
        const startedAt = m?.groups?.runId ? runTime(m.groups.runId) : undefined;
        if (!m || !startedAt) continue;
        if (beside ? m.groups?.base !== path.basename(target) : m.groups?.base !== undefined) continue;
        found.push({ kind, runId: m.groups!.runId!, startedAt, name: path.join(dir, name), what: "folder" });
      }
  };
  await look(path.dirname(target), true);
  await look(target, false);
  return found;
}
