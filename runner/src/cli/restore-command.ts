import path from "node:path";
import type { Command } from "commander";
import { resolveBackup, type CompleteBackupSet } from "../catalog/catalog.js";
import { MANUAL_TIER, type RunnerEnv, type Tier } from "../contract.js";
import { loadRestoreSettings, restoreSecrets } from "../settings/config.js";
import { confirmOrRefuse } from "../output/confirm.js";
import { ConfigError } from "../errors.js";
import { formatBytes, safeName } from "../output/format.js";
import { openLiveArea } from "../output/progress.js";
import { parseSelectionPaths } from "../media-store/path-selection.js";
import { deriveManifest, importedBackupId, openSeedArchive, SeedArchiveStore } from "../legacy/seed-archive.js";
import { openStore } from "../store/open-store.js";
import type { ObjectStore } from "../store/object-store.js";
import {
  checkOwnership,
  describeRestore,
  planRestore,
  runRestore,
  type RestorePlan,
  type RestoreResult,
} from "../commands/restore.js";
import { ownershipPreamble } from "../pg/owners.js";
import { migrationPreamble } from "../references/migration-preamble.js";
import {
  addDestinationOptions,
  destinationOverrides,
  printReadable,
  wantsReadableSummary,
  settingsLogger,
  signalController,
  tierOption,
  withUnlockedSet,
  type ReplaceFlags,
} from "./shared.js";

interface RestoreFlags extends ReplaceFlags {
  tier?: Tier;
  fromArchive?: string;
  scratchDir?: string;
  jobs?: string;
  keepPrevious: boolean;
  allowOwnerChange?: boolean;
  path: string[];
}

/**
 * --path's own rules, before anything is read (exit 2, every problem at once): media only, into a
 * folder named on the command line (MEDIA_DIR in the environment is the live folder).
 */
function selectionPaths(flags: RestoreFlags): Buffer[] | undefined {
  if (!flags.path.length) return undefined;
  const problems: string[] = [];
  if (!flags.mediaOnly)
    problems.push("--path restores media entries only: add --media-only (the database is never restored by path)");
  if (!flags.mediaDir)
    problems.push(
      "--path needs --media-dir NEW_FOLDER: a new or empty folder to write the entries into (never the live MEDIA_DIR)",
    );
  if (flags.fromArchive)
    problems.push(
      "--path and --from-archive: an archive's media is one tar stream; restore it whole into a new folder and copy what you need",
    );
  const parsed = parseSelectionPaths(flags.path);
  if ("problems" in parsed) problems.push(...parsed.problems);
  if (problems.length) throw new ConfigError(problems);
  return "paths" in parsed ? parsed.paths : undefined;
}

/** The set to restore: from the destination, or a legacy backup-hybrid.sh archive file. */
async function findSet(
  ref: string | undefined,
  flags: RestoreFlags,
  store: ObjectStore | undefined,
): Promise<{ set: CompleteBackupSet; store: ObjectStore }> {
  if (flags.fromArchive) {
    if (ref)
      throw new ConfigError([`<backup> and --from-archive: give one of them (got "${ref}" and ${flags.fromArchive})`]);
    const archive = await openSeedArchive(path.resolve(flags.fromArchive));
    const manifest = await deriveManifest(archive, importedBackupId(archive.manifest, "0000"), MANUAL_TIER);
    const archiveStore = new SeedArchiveStore(archive, manifest);
    return { set: await resolveBackup(archiveStore, manifest.backupId), store: archiveStore };
  }
  if (!ref) throw new ConfigError(["<backup>: give a backup id or 'latest' (or --from-archive FILE)"]);
  return { set: await resolveBackup(store!, ref, flags.tier), store: store! };
}

/** The restore's settings: flags over the environment (every problem at once, exit 2). */
function restoreSettings(flags: RestoreFlags) {
  const overrides: RunnerEnv = {
    ...destinationOverrides(flags),
    MEDIA_DIR: flags.mediaDir,
    DATABASE_URL: flags.databaseUrl,
    RESTORE_SCRATCH_DIR: flags.scratchDir,
    RESTORE_JOBS: flags.jobs,
  };
  return loadRestoreSettings(
    { processEnv: process.env, overrides, isTty: Boolean(process.stdout.isTTY) },
    {
      databaseOnly: flags.databaseOnly,
      mediaOnly: flags.mediaOnly,
      targetDb: flags.targetDb,
      needsMediaTarget: true,
      fromArchive: Boolean(flags.fromArchive),
    },
  );
}

/** What is said before the question: migrations to run after, and owners that change (or a refusal). */
async function questionPreamble(plan: RestorePlan, flags: RestoreFlags): Promise<string[]> {
  // Said before the question, so an operator restoring into another release knows about `migrate`.
  if (!plan.database) return [];
  return [
    ...(await migrationPreamble(plan.database.connection, plan.database.target, plan.database.entry.migrations)),
    // Which owners change, before the question (a SECURITY DEFINER function's refuses, exit 2).
    ...ownershipPreamble(await checkOwnership(plan.database, Boolean(flags.allowOwnerChange))),
  ];
}

/** The readable report of a finished restore: what was restored, kept, and how to undo it. */
function restoreSummary(result: RestoreResult, flags: RestoreFlags): string {
  const lines = [
    `restored ${flags.fromArchive ?? `${result.tier}/${result.backupId}`} in ${result.seconds.toFixed(1)} s`,
    result.database &&
      [
        `  database ${result.database.name}: ${result.database.tables} tables, ${result.database.rows} rows (${formatBytes(result.database.bytes)} of dump), analyzed in ${result.database.analyzeSeconds.toFixed(1)} s, owners ${result.database.ownersKept ? "kept" : "not kept"}`,
        ...result.database.properties.map((p) => `    ${p}`),
        ...(result.database.createdRoles.length
          ? [
              `    created role(s) without passwords: ${result.database.createdRoles.map(safeName).join(", ")} (ALTER ROLE ... PASSWORD '...' for each that logs in)`,
            ]
          : []),
        ...(result.database.subscriptions.length
          ? [
              `    ${result.database.subscriptions.length} subscription(s) restored disabled, without a slot: ${result.database.subscriptions.map(safeName).join(", ")}`,
            ]
          : []),
      ].join("\n"),
    result.media &&
      (result.media.selected
        ? `  media ${result.media.dir}: ${result.media.selected.files} files (${formatBytes(result.media.selected.bytes)}) from ${result.media.selected.paths.join(", ")}`
        : `  media ${result.media.dir}: ${result.media.files} files (${formatBytes(result.media.bytes)} of archive)`),
    result.kept &&
      `  kept until ${result.kept.keepUntil}: ${[result.kept.database, result.kept.media].filter(Boolean).join(" and ")}\n` +
        `  undo: edms-backup undo-restore${flags.targetDb ? ` --target-db ${flags.targetDb}` : ""}${flags.mediaDir ? ` --media-dir ${flags.mediaDir}` : ""}; drop them now: edms-backup cleanup --older-than 0`,
  ];
  return lines.filter(Boolean).join("\n");
}

async function restoreAction(ref: string | undefined, flags: RestoreFlags): Promise<void> {
  const paths = selectionPaths(flags);
  const settings = restoreSettings(flags);
  const area = openLiveArea(process.stderr);
  const log = settingsLogger(settings, { secrets: restoreSecrets(settings), area });
  const destinationStore = settings.destination ? openStore(settings.destination, settings.s3Endpoint) : undefined;
  const { set: found, store } = await findSet(ref, flags, destinationStore);
  // An encrypted set is unlocked (identity checked, names decrypted) before the question.
  const result = await withUnlockedSet(store, found, settings.identity, async (set, identity) => {
    // Decided before the question, so the prompt names the folder really replaced.
    const plan = await planRestore(
      set,
      {
        databaseOnly: flags.databaseOnly,
        mediaOnly: flags.mediaOnly,
        sourceFile: flags.fromArchive ? path.resolve(flags.fromArchive) : undefined,
        paths,
        liveMediaDir: process.env.MEDIA_DIR || undefined,
      },
      settings,
    );
    const preamble = await questionPreamble(plan, flags);
    for (const line of preamble) log.warn({ stage: "migrations" }, line);
    const question = describeRestore(set, plan);
    await confirmOrRefuse(question, Boolean(flags.yes), preamble);
    return runRestore(
      set,
      plan,
      settings,
      {
        terminateConnections: flags.terminateConnections,
        keepPreviousHours: flags.keepPrevious ? settings.keepPreviousHours : 0,
        allowOwnerChange: flags.allowOwnerChange,
      },
      { store, markerStore: destinationStore, log, signal: signalController().signal, area, identity },
    );
  });
  if (wantsReadableSummary(flags.logFormat)) {
    printReadable(restoreSummary(result, flags));
  }
}

export function registerRestoreCommand(program: Command): void {
  addDestinationOptions(
    program
      .command("restore")
      .description(
        "restore a backup set over the database and media folder (verified staging copies, swapped in only when complete)",
      )
      .argument("[backup]", "backup id or 'latest'")
      .addOption(tierOption("tier to pick 'latest' from")),
  )
    .option(
      "--from-archive <file>",
      "restore a backup-hybrid.sh archive (backups/backup_YYYYMMDD_HHMMSS.tar.gz) instead",
    )
    .option("--database-only", "restore only the database")
    .option("--media-only", "restore only the media folder")
    .option(
      "--path <path>",
      "with --media-only, a store-format set: only this name or folder (repeatable; as `files` prints it), into a new or empty --media-dir",
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .option("--target-db <name>", "database to restore into (default: the connection's database); created when missing")
    .option("--media-dir <path>", "media folder to restore into (env MEDIA_DIR)")
    .option("--database-url <url>", "postgres:// URL of the server (env DATABASE_URL)")
    .option("--terminate-connections", "disconnect sessions still using the target database at swap time")
    .option(
      "--scratch-dir <path>",
      "copy the dump here first (verified, removed afterwards) so pg_restore can read a file (env RESTORE_SCRATCH_DIR)",
    )
    .option("--jobs <n>", "pg_restore --jobs, 1-64; needs --scratch-dir (env RESTORE_JOBS)")
    .option(
      "--no-keep-previous",
      "drop the replaced database and media folder at once instead of keeping them for undo-restore (env KEEP_PREVIOUS_HOURS, default 24)",
    )
    .option(
      "--allow-owner-change",
      "restore even when SECURITY DEFINER functions would change owner (the restoring role cannot keep their owners)",
    )
    .option("--yes", "do not ask for confirmation (required without a terminal)")
    .action((ref: string | undefined, flags: RestoreFlags) => restoreAction(ref, flags));
}
