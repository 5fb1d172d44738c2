/**
 * `restore`: database and media are restored side by side into staging copies (a staging
 * database, a staging folder), each verified while streaming (sha256) and afterwards (row
 * counts, file counts). Only when both passed are they swapped in by renames; until then the
 * live database and media folder are untouched, and any failure leaves them exactly as they were.
 */
import { constants } from "node:fs";
import { access, stat } from "node:fs/promises";
import { newRunId } from "../catalog/backup-id.js";
import type { CompleteBackupSet } from "../catalog/catalog.js";
import type { RestoreSettings } from "../settings/config.js";
import type { DatabaseEntry, MediaEntry } from "../catalog/manifest.js";
import type { PgConnection } from "../pg/connection.js";
import { ConfigError, RunnerError } from "../errors.js";
import { checkSpace, scratchSpaceProblem } from "../restore/free-space.js";
import { formatDuration } from "../output/format.js";
import { rate, type Logger } from "../output/logger.js";
import type { LiveArea } from "../output/progress.js";
import {
  connectionsProblem,
  databaseExists,
  settledConnections,
  targetDatabaseProblem,
  withAdminClient,
} from "../restore/database-staging.js";
import { chooseLayout } from "../restore/media-staging.js";
import { restorePrivilegeProblem } from "../restore/restore-privileges.js";
import { acceptRestoreTarget, refuseSelectionTarget } from "../restore/restore-target.js";
import { PathSelection } from "../media-store/path-selection.js";
import { quoteName } from "../archive/entry-name.js";
import { runCleanup } from "./cleanup.js";
import type { ObjectStore } from "../store/object-store.js";
import type { OpenIdentity } from "../encryption/identity.js";
import { describeProperties, readDatabaseProperties, type DatabaseProperties } from "../pg/database-properties.js";
import { definerProblem, ownershipPlan, type OwnershipPlan } from "../pg/owners.js";
import { prepareGlobals } from "../restore/restore-globals.js";
import { holdRunCopies, logRestoreDone, settlePrevious, stageAndSwap, startRun } from "./restore-run.js";

/** How the plan is carried out. */
export interface RestoreOptions {
  terminateConnections?: boolean;
  /** Hours to keep what the restore replaces, for `undo-restore`; 0 (default) drops it at once. */
  keepPreviousHours?: number;
  /** Restore even when SECURITY DEFINER functions change owner (--allow-owner-change). */
  allowOwnerChange?: boolean;
}

export interface RestoreDeps {
  store: ObjectStore;
  log: Logger;
  signal?: AbortSignal;
  /** Where kept-copy markers go (the destination); none when restoring from a file. */
  markerStore?: ObjectStore;
  /** The terminal's live area, for progress lines (log lines otherwise). */
  area?: LiveArea;
  /** The identity an encrypted set was unlocked with (see unlockSet). */
  identity?: OpenIdentity;
}

export interface RestoreResult {
  backupId: string;
  tier: string;
  database?: {
    name: string;
    bytes: number;
    tables: number;
    rows: number;
    /** The database's own properties now (describeProperties), as applied from the backup. */
    properties: string[];
    analyzeSeconds: number;
    /** Subscriptions restored disabled and without a slot. */
    subscriptions: string[];
    /** Whether the dump's owners were kept. */
    ownersKept: boolean;
    /** Roles created (without passwords) because the server lacked them. */
    createdRoles: string[];
  };
  media?: {
    dir: string;
    bytes: number;
    files: number;
    /** With --path: the paths asked for (printable) and the regular files and bytes written. */
    selected?: { paths: string[]; files: number; bytes: number };
  };
  seconds: number;
  /** Previous copies that could not be removed after the restore completed (left for the operator). */
  leftovers: string[];
  /** What was kept for `undo-restore` (absent with --no-keep-previous or nothing replaced). */
  kept?: { runId: string; database?: string; media?: string; keepUntil: string };
}

/**
 * What one restore replaces, decided once, before the question: each part it touches with
 * everything that part needs. A part that is absent is not touched.
 */
export interface RestorePlan {
  database?: {
    entry: DatabaseEntry;
    connection: PgConnection;
    /** The database replaced (the connection's own, or --target-db). */
    target: string;
    /** RESTORE_SCRATCH_DIR/RESTORE_JOBS: decode into a file first, then pg_restore --jobs. */
    scratch?: { dir: string; jobs: number };
  };
  media?: {
    entry: MediaEntry;
    /** The resolved folder (a link's target): everything works on it, never on the given string. */
    dir: string;
    /** The symlink given as MEDIA_DIR, which stays (absent when none was given). */
    link?: string;
    /** --path: only these entries, into a new or empty folder (never the live one). */
    selection?: PathSelection;
  };
}

/** Which parts to restore: what the set holds, narrowed by --database-only / --media-only. */
export interface RestorePartsWanted {
  databaseOnly?: boolean;
  mediaOnly?: boolean;
  /** A legacy archive file being restored: the media target must not hold it. */
  sourceFile?: string;
  /** --path (parsed): restore only these entries of a store-format set. */
  paths?: Buffer[];
  /** The live media folder (the environment's MEDIA_DIR), which a --path restore never writes into. */
  liveMediaDir?: string;
}

/**
 * The plan for `set`: which parts, checked against the settings (a part without its target is bad
 * input, exit 2, every problem named at once), the media target resolved and refused when it must
 * not be replaced, the scratch folder checked.
 */
export async function planRestore(
  set: CompleteBackupSet,
  wanted: RestorePartsWanted,
  settings: RestoreSettings,
): Promise<RestorePlan> {
  const database = wanted.mediaOnly ? null : set.manifest.database;
  const media = wanted.databaseOnly ? null : set.manifest.media;
  const missing: string[] = [];
  if (database && (!settings.database || !settings.targetDatabase))
    missing.push("DATABASE_URL (--database-url): required to restore the database, or pass --media-only");
  if (media && !settings.mediaDir)
    missing.push("MEDIA_DIR (--media-dir): required (where the media is restored), or pass --database-only");
  if (missing.length) throw new ConfigError(missing);
  if (wanted.databaseOnly && !set.manifest.database)
    throw new RunnerError(`backup ${set.backupId} has no database dump`, 2);
  if (wanted.mediaOnly && !set.manifest.media) throw new RunnerError(`backup ${set.backupId} has no media archive`, 2);
  if (wanted.paths && media?.format !== "store")
    throw new RunnerError(
      `--path: backup ${set.tier}/${set.backupId} keeps its media in one tar archive, which --path does not pick from; restore it whole into a new folder (--media-only --media-dir NEW) and copy what you need, or extract the members with tar by hand (docs/RUNBOOK.md, "Restoring one file or folder")`,
      2,
    );
  const plan: RestorePlan = {};
  if (database && settings.database && settings.targetDatabase) {
    if (settings.scratch) {
      await checkScratchDir(settings.scratch.dir);
      const noSpace = await scratchSpaceProblem(settings.scratch.dir, database.bytes);
      if (noSpace) throw new RunnerError(noSpace);
    }
    plan.database = {
      entry: database,
      connection: settings.database,
      target: settings.targetDatabase,
      scratch: settings.scratch,
    };
  }
  if (media && settings.mediaDir) {
    const target = await acceptRestoreTarget(settings.mediaDir, {
      destinationRoot: settings.destination?.kind === "file" ? settings.destination.root : undefined,
      sourceFile: wanted.sourceFile,
    });
    plan.media = { entry: media, dir: target.dir, link: target.link };
    if (wanted.paths) {
      await refuseSelectionTarget(settings.mediaDir, target.dir, target.exists, wanted.liveMediaDir);
      plan.media.selection = new PathSelection(wanted.paths);
    }
  }
  return plan;
}

/**
 * The question before a restore. It names the set's tier, when it was taken and how long ago, so
 * an operator at 3 a.m. sees at once whether `latest` picked last night's backup or something else.
 */
export function describeRestore(set: CompleteBackupSet, plan: RestorePlan, now: Date = new Date()): string {
  const { database, media } = plan;
  const parts = [
    database && `database "${database.target}" on ${database.connection.display.replace(/\/[^/]*$/, "")}`,
    media &&
      `media folder ${media.link ? `${media.dir} (the target of the link ${media.link}, which stays)` : media.dir}`,
  ].filter(Boolean);
  const taken = Date.parse(set.manifest.startedAt);
  const selection = media?.selection;
  const age = taken > now.getTime() ? "in the future" : `${formatDuration((now.getTime() - taken) / 1000)} ago`;
  if (selection)
    return (
      `Restore ${selection.paths.map(quoteName).join(", ")} from the ${set.tier} backup ${set.tier}/${set.backupId}, ` +
      `taken ${set.manifest.startedAt} (${age}), into the new folder ${media.dir}? Nothing existing is replaced.`
    );
  return (
    `Restore the ${set.tier} backup ${set.tier}/${set.backupId}, taken ${set.manifest.startedAt} (${age}), ` +
    `over ${parts.join(" and ")}? Their current contents will be replaced.`
  );
}

/** RESTORE_SCRATCH_DIR must be a folder this user can create files in (bad input otherwise). */
async function checkScratchDir(dir: string): Promise<void> {
  const what = "RESTORE_SCRATCH_DIR (--scratch-dir)";
  const info = await stat(dir).catch(() => undefined);
  if (!info) throw new ConfigError([`${what}: ${dir} does not exist`]);
  if (!info.isDirectory()) throw new ConfigError([`${what}: ${dir} is not a directory`]);
  await access(dir, constants.W_OK | constants.X_OK).catch(() => {
    throw new ConfigError([`${what}: ${dir} is not writable by this user (uid ${process.getuid?.() ?? "?"})`]);
  });
}

/**
 * Whether the dump's owners can be kept by this restore (see pg/owners.ts): exit 2 when a
 * SECURITY DEFINER function would change owner and the operator did not allow it.
 */
export async function checkOwnership(
  database: NonNullable<RestorePlan["database"]>,
  allowOwnerChange: boolean,
): Promise<OwnershipPlan> {
  const plan = await withAdminClient(database.connection, (c) => ownershipPlan(c, database.entry), [database.target]);
  const problem = definerProblem(plan);
  if (problem && !allowOwnerChange) throw new RunnerError(problem, 2);
  return plan;
}

/** Refuses early, before minutes of restoring, when the database swap would fail anyway. */
async function preflight(
  database: RestorePlan["database"],
  options: RestoreOptions,
): Promise<{ ownership: OwnershipPlan; targetProperties?: DatabaseProperties } | undefined> {
  if (!database) return undefined;
  const { target } = database;
  const ownership = await checkOwnership(database, Boolean(options.allowOwnerChange));
  return withAdminClient(
    database.connection,
    async (client) => {
      const problem = await targetDatabaseProblem(client, target);
      if (problem) throw new ConfigError([problem]);
      // Every privilege the restore will need, before a byte is downloaded (restore-privileges.ts).
      const lacking = await restorePrivilegeProblem(client, database.connection, target);
      if (lacking) throw new RunnerError(lacking);
      if (!options.terminateConnections && (await databaseExists(client, target))) {
        const open = await settledConnections(client, target);
        if (open > 0) throw new RunnerError(connectionsProblem(target, open));
      }
      // A set of an earlier runner records no properties: the replaced database's are kept.
      const targetProperties = database.entry.properties ? undefined : await readDatabaseProperties(client, target);
      return { ownership, targetProperties };
    },
    [target],
  );
}

export async function runRestore(
  set: CompleteBackupSet,
  plan: RestorePlan,
  settings: RestoreSettings,
  options: RestoreOptions,
  deps: RestoreDeps,
): Promise<RestoreResult> {
  const started = Date.now();
  const { database, media } = plan;
  const log = deps.log.child({ backupId: set.backupId, tier: set.tier });
  const runId = newRunId();
  const prepared = await prepareRestore(plan, options, log, deps.markerStore);
  const run = startRun(set, plan, settings, deps, { log, runId });
  const teardown = once(async () => {
    await run.hold?.release();
    run.progress.stop();
    deps.signal?.removeEventListener("abort", run.onSignal);
  });
  try {
    run.hold = await holdRunCopies(plan, runId, prepared.layout).catch(async (error: unknown) => {
      await teardown();
      throw error;
    });
    const staged = await stageAndSwap(set, plan, settings, options, { run, prepared, runId, log, teardown });
    const { leftovers, kept } = await settlePrevious(
      set,
      plan,
      staged,
      { runId, keepHours: prepared.keepHours },
      {
        markerStore: deps.markerStore,
        log,
      },
    );
    const { counts, tally, properties } = staged;
    const result: RestoreResult = {
      backupId: set.backupId,
      tier: set.tier,
      database: database &&
        counts && {
          name: database.target,
          bytes: database.entry.bytes,
          tables: counts.counts.length,
          rows: counts.counts.reduce((s, t) => s + t.rows, 0),
          properties: properties ? describeProperties(properties) : [],
          analyzeSeconds: counts.analyzeSeconds,
          subscriptions: counts.subscriptions,
          ownersKept: prepared.checked?.ownership.keepOwners ?? false,
          createdRoles: prepared.globals?.createdRoles ?? [],
        },
      media: media &&
        tally && {
          dir: media.dir,
          bytes: media.entry.bytes,
          files: tally.files,
          ...(tally.selected && media.selection
            ? { selected: { paths: media.selection.paths.map(quoteName), ...tally.selected } }
            : {}),
        },
      seconds: (Date.now() - started) / 1000,
      leftovers,
      kept,
    };
    logRestoreDone(log, set, result, rate(run.total, Date.now() - started));
    return result;
  } finally {
    await teardown();
  }
}

/** Runs `fn` the first time only; later calls wait for that one. */
function once(fn: () => Promise<void>): () => Promise<void> {
  let ran: Promise<void> | undefined;
  return () => (ran ??= fn());
}

/**
 * Before a byte is downloaded: the targets and privileges, the roles and tablespaces the set
 * needs, expired copies swept, where the staging copy goes and whether it fits.
 */
async function prepareRestore(
  plan: RestorePlan,
  options: RestoreOptions,
  log: Logger,
  markerStore: ObjectStore | undefined,
) {
  const { database, media } = plan;
  const checked = await preflight(database, options);
  // Roles and tablespaces the set needs and this server lacks (a new server): before pg_restore.
  const globals = database && (await prepareGlobals(database.connection, database.entry, [database.target], log));
  // A --path restore replaces an empty folder at most: there is nothing to keep.
  const keepHours = media?.selection ? 0 : (options.keepPreviousHours ?? 0);
  // Expired kept copies and staging copies of killed runs of this same target go first: they
  // are what would otherwise fill the volume.
  await runCleanup(
    {
      connection: database?.connection,
      database: database?.target,
      mediaDir: media?.dir,
    },
    // Each record's own keepUntil decides: a copy kept with a longer window stays for it.
    {},
    { log, store: markerStore },
  );
  // Where the staging copy goes (beside the folder, or inside a mount point), decided once.
  const layout = media && (await chooseLayout(media.dir));
  // The size of a --path selection is known only once the index is read: the writes themselves
  // fail (in the staging folder, nothing swapped) when it does not fit.
  if (media && layout && !media.selection) await checkSpace(media.entry, media.dir, layout, keepHours > 0, log);
  return { checked, globals, keepHours, layout };
}

export type Prepared = Awaited<ReturnType<typeof prepareRestore>>;
