/**
 * The staging and previous copies of restores and drills (names from the contract): who holds
 * them, finding them, and sweeping the stale ones. A run killed by SIGKILL (the OOM killer, a
 * node drain past the grace period) cannot clean up; the next restore or drill does, and `status`
 * lists whatever remains.
 *
 * "Held" means a live run still uses the copy, and it is known differently for each kind:
 * - Databases: the run holds a PostgreSQL session-level advisory lock keyed by its run id for its
 *   whole life. The server releases it the moment the session ends, whichever way the process
 *   died, and it is visible from any host that reaches the server: no clock, no guess.
 * - Folders: a holder file beside the staging folder (`<staging>.holder`) records the host, boot
 *   id, pid and the process's start time, and the run touches it every 30 s. On the same host a
 *   dead process is recognised at once (a recycled pid has another start time); from another host
 *   (another pod) a holder counts as held until it has not been touched for 10 minutes. flock(2)
 *   would need a native addon in Node and behaves differently on network volumes, where media
 *   folders often live.
 * Only staging copies are swept. A previous copy may be the only copy of the old data (a run
 * killed between its two renames), so it is listed, never removed automatically; `cleanup`
 * removes the previous copies a restore recorded keeping (commands/cleanup.ts).
 */
import { readFileSync } from "node:fs";
import { lstat, readFile, readdir, rm, utimes, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type pg from "pg";
import { backupIdTime } from "../catalog/backup-id.js";
import { COPY_DATABASE_RE, COPY_FOLDER_RE, COPY_HOLDER_SUFFIX, type CopyKind } from "../contract.js";
import { errorMessage } from "../errors.js";
import type { Logger } from "../output/logger.js";
import type { PgConnection } from "../pg/connection.js";
import { dropDatabase, withAdminClient } from "./database-staging.js";
import { removeTree } from "./media-staging.js";

export const HOLDER_SUFFIX = COPY_HOLDER_SUFFIX;
const HEARTBEAT_MS = 30_000;
/** A holder from another host not touched for this long belongs to a dead run. */
export const HOLDER_EXPIRY_MS = 10 * 60_000;

export interface RunCopy {
  kind: CopyKind;
  where: "database" | "folder";
  /** The database name, or the folder's absolute path. */
  name: string;
  runId: string;
  /** When the run that made it started (from the run id). */
  startedAt: string;
  /** A live run still uses it. */
  held: boolean;
}

interface HolderRecord {
  runId: string;
  host: string;
  bootId: string;
  pid: number;
  pidStart: string;
}

function bootId(): string {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    return "";
  }
}

/** A process's start time (clock ticks since boot, /proc/<pid>/stat field 22), or undefined when it does not exist. */
function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses; fields resume after the last ")".
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

function advisoryKey(runId: string): string {
  return `edms-run:${runId}`;
}

/** What a run holds while it lives; release() when it ends (a killed run releases by dying). */
export interface RunHold {
  release(): Promise<void>;
}

/**
 * Takes the run's holds: the advisory lock on the database server (when the run creates
 * databases) and a holder file for each folder path it will create.
 */
export async function holdRun(
  runId: string,
  options: { connection?: PgConnection; avoid?: readonly string[]; folders?: readonly string[] },
): Promise<RunHold> {
  const holders = (options.folders ?? []).map((f) => `${f}${HOLDER_SUFFIX}`);
  const record: HolderRecord = {
    runId,
    host: os.hostname(),
    bootId: bootId(),
    pid: process.pid,
    pidStart: processStart(process.pid) ?? "",
  };
  for (const holder of holders) await writeFile(holder, `${JSON.stringify(record)}\n`, { mode: 0o600 });
  const heartbeat = setInterval(() => {
    const now = new Date();
    for (const holder of holders) void utimes(holder, now, now).catch(() => undefined);
  }, HEARTBEAT_MS);
  heartbeat.unref();
  let client: pg.Client | undefined;
  if (options.connection) {
    // A session of its own, open for the whole run: the lock lives exactly as long as the run.
    client = await withAdminClientSession(options.connection, options.avoid ?? []);
    await client.query("select pg_advisory_lock(hashtextextended($1, 0))", [advisoryKey(runId)]);
  }
  return {
    async release() {
      clearInterval(heartbeat);
      await client?.end().catch(() => undefined);
      for (const holder of holders) await rm(holder, { force: true });
    },
  };
}

/** An admin session that stays open (withAdminClient closes its own at the end of the work). */
function withAdminClientSession(connection: PgConnection, avoid: readonly string[]): Promise<pg.Client> {
  return new Promise((resolve, reject) => {
    let done: () => void;
    const kept = new Promise<void>((r) => (done = r));
    withAdminClient(
      connection,
      async (client) => {
        // Hand the client out, and keep withAdminClient from ending it until the run does.
        client.once("end", () => done());
        resolve(client);
        await kept;
      },
      avoid,
    ).catch(reject);
  });
}

async function folderHeld(holder: string, now: number): Promise<boolean> {
  const [text, info] = await Promise.all([
    readFile(holder, "utf8").catch(() => undefined),
    lstat(holder).catch(() => undefined),
  ]);
  if (text === undefined || !info) return false;
  let record: HolderRecord;
  try {
    record = JSON.parse(text) as HolderRecord;
  } catch {
    return now - info.mtimeMs < HOLDER_EXPIRY_MS;
  }
  if (record.host === os.hostname() && record.bootId === bootId())
    return processStart(record.pid) === record.pidStart && record.pidStart !== "";
  return now - info.mtimeMs < HOLDER_EXPIRY_MS;
}

function startedAt(runId: string): string {
  return backupIdTime(runId)?.toISOString() ?? "";
}

/** The runner's copies in `dir` (beside `base` only, when given, or inside `dir` when base is null). */
async function copiesIn(dir: string, base: string | null | undefined): Promise<RunCopy[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const now = Date.now();
  const found: RunCopy[] = [];
  for (const name of names) {
    for (const kind of ["staging", "previous"] as const) {
      const m = COPY_FOLDER_RE[kind].exec(name);
      if (!m) continue;
      const copyBase = m.groups!.base;
      if (base !== undefined && (base === null ? copyBase !== undefined : copyBase !== base)) continue;
      const runId = m.groups!.runId!;
      // A previous copy is held by the run's staging holder (same run id, same place).
      const holder = path.join(dir, `${name.replace(`edms-${kind}-`, "edms-staging-")}${HOLDER_SUFFIX}`);
      found.push({
        kind,
        where: "folder",
        name: path.join(dir, name),
        runId,
        startedAt: startedAt(runId),
        held: await folderHeld(holder, now),
      });
    }
  }
  return found;
}

/** Where a media folder's copies can be: beside it (named after it) and inside it. */
export function mediaCopySites(mediaDir: string): Array<{ dir: string; base: string | null }> {
  return [
    { dir: path.dirname(mediaDir), base: path.basename(mediaDir) },
    { dir: mediaDir, base: null },
  ];
}

/** Staging and previous databases on the server, with whether a live run holds each. */
export async function databaseCopies(connection: PgConnection, avoid: readonly string[] = []): Promise<RunCopy[]> {
  return withAdminClient(
    connection,
    async (client) => {
      const rows = await client.query<{ datname: string }>("select datname from pg_database order by 1");
      const found: RunCopy[] = [];
      for (const { datname } of rows.rows) {
        for (const kind of ["staging", "previous"] as const) {
          const m = COPY_DATABASE_RE[kind].exec(datname);
          if (!m) continue;
          const runId = m.groups!.runId!;
          // pg_locks shows advisory locks taken from any database of the server (a lock is
          // scoped to the database its session is connected to, and the maintenance database
          // differs when the target is "postgres"). A bigint key is classid (high 32 bits),
          // objid (low 32 bits), objsubid 1.
          const got = await client.query<{ held: boolean }>(
            `select exists (
               select 1 from pg_locks, (select hashtextextended($1, 0) as k) key
               where locktype = 'advisory' and objsubid = 1
                 and classid = ((key.k >> 32) & 4294967295)::bigint::oid
                 and objid = (key.k & 4294967295)::bigint::oid) as held`,
            [advisoryKey(runId)],
          );
          const held = got.rows[0]!.held;
          found.push({ kind, where: "database", name: datname, runId, startedAt: startedAt(runId), held });
        }
      }
      return found;
    },
    avoid,
  );
}

export interface CopySites {
  connection?: PgConnection;
  /** Databases the maintenance connection must not use (the restore's target). */
  avoid?: readonly string[];
  folders?: ReadonlyArray<{ dir: string; base: string | null }>;
}

/** Every staging and previous copy at these sites. */
export async function findRunCopies(sites: CopySites): Promise<RunCopy[]> {
  const found: RunCopy[] = [];
  if (sites.connection) found.push(...(await databaseCopies(sites.connection, sites.avoid)));
  for (const site of sites.folders ?? []) found.push(...(await copiesIn(site.dir, site.base)));
  return found;
}

/** A staging copy no live run holds: what the sweep (and `cleanup`) removes. */
export function isStaleStaging(copy: RunCopy): boolean {
  return copy.kind === "staging" && !copy.held;
}

/** Drops a copy database, or removes a copy folder with its holder file. */
export async function removeRunCopy(copy: RunCopy, connection: PgConnection | undefined): Promise<void> {
  if (copy.where === "database") {
    if (!connection) throw new Error(`no database connection to drop ${copy.name} with`);
    await dropDatabase(connection, copy.name);
  } else {
    await removeTree(copy.name);
    await rm(`${copy.name}${HOLDER_SUFFIX}`, { force: true });
  }
}

/**
 * Removes the staging copies no live run holds (never previous copies, never anything held).
 * Returns what was removed; a copy that cannot be removed is logged and left for `status`.
 * `found`: what the caller has just found at these sites (`cleanup`), instead of looking again.
 */
export async function sweepStaleStaging(sites: CopySites, log: Logger, found?: RunCopy[]): Promise<RunCopy[]> {
  const removed: RunCopy[] = [];
  let copies: RunCopy[];
  try {
    copies = found ?? (await findRunCopies(sites));
  } catch (error) {
    log.warn({ stage: "sweep", error: errorMessage(error) }, "could not look for stale staging copies");
    return removed;
  }
  for (const copy of copies) {
    if (!isStaleStaging(copy)) continue;
    try {
      await removeRunCopy(copy, sites.connection);
      removed.push(copy);
      log.info(
        { stage: "sweep", copy: copy.name, runId: copy.runId },
        `removed the stale staging ${copy.where} ${copy.name} of an earlier run (started ${copy.startedAt})`,
      );
    } catch (error) {
      log.warn(
        { stage: "sweep", copy: copy.name, error: errorMessage(error) },
        `could not remove the stale staging ${copy.where} ${copy.name}`,
      );
    }
  }
  return removed;
}

/**
 * The start of every restore and drill: take this run's holds (before it creates anything), then
 * remove the stale staging copies of earlier runs at the same places.
 */
export async function holdAndSweep(
  runId: string,
  run: { connection?: PgConnection; avoid?: readonly string[]; stagingFolders: readonly string[] },
  sites: CopySites,
  log: Logger,
): Promise<RunHold> {
  const hold = await holdRun(runId, { connection: run.connection, avoid: run.avoid, folders: run.stagingFolders });
  try {
    await sweepStaleStaging(sites, log);
  } catch (error) {
    await hold.release();
    throw error;
  }
  return hold;
}
