import type { Command } from "commander";
import type { RunnerEnv } from "../contract.js";
import { loadRestoreSettings } from "../settings/config.js";
import { confirmOrRefuse } from "../output/confirm.js";
import { ConfigError } from "../errors.js";
import { createLogger } from "../output/logger.js";
import { openStore } from "../store/open-store.js";
import { runCleanup } from "../commands/cleanup.js";
import { describeUndo, planUndo, runUndoRestore } from "../commands/undo-restore.js";
import { formatTime } from "../commands/list.js";
import { acceptRestoreTarget } from "../restore/restore-target.js";
import {
  addDestinationOptions,
  destinationOverrides,
  printOut,
  signalController,
  type DestinationFlags,
  type ReplaceFlags,
} from "./shared.js";

type UndoFlags = ReplaceFlags & { discardChanges?: boolean };

interface CleanupFlags extends DestinationFlags {
  targetDb?: string;
  mediaDir?: string;
  databaseUrl?: string;
  olderThan?: string;
  dryRun?: boolean;
  yes?: boolean;
}

/** The same connection and target rules as restore (flags, DATABASE_URL/PG*, MEDIA_DIR). */
function settingsFor(flags: UndoFlags | CleanupFlags, scope: { databaseOnly?: boolean; mediaOnly?: boolean }) {
  const overrides: RunnerEnv = {
    ...destinationOverrides(flags),
    MEDIA_DIR: flags.mediaDir,
    DATABASE_URL: flags.databaseUrl,
  };
  const settings = loadRestoreSettings(
    { processEnv: process.env, overrides, isTty: Boolean(process.stdout.isTTY) },
    { ...scope, targetDb: flags.targetDb, needsMediaTarget: true },
  );
  const log = createLogger({
    format: settings.logFormat,
    level: settings.logLevel,
    secrets: settings.database?.secrets,
  });
  return { settings, log, store: openStore(settings.destination!, settings.s3Endpoint) };
}

async function undoAction(flags: UndoFlags): Promise<void> {
  const { settings, log, store } = settingsFor(flags, flags);
  if (flags.databaseOnly && flags.mediaOnly) throw new ConfigError(["--database-only and --media-only: choose one"]);
  // Installed before anything is read: SIGTERM must reach the undo's own handling (stop before the
  // swap, finish a swap that has started), never end the process between two renames.
  const signals = signalController();
  const plan = await planUndo(settings, flags, store, log);
  await confirmOrRefuse(describeUndo(plan), Boolean(flags.yes));
  const kept = await runUndoRestore(plan, settings, flags, { store, log, signal: signals.signal });
  if (process.stdout.isTTY)
    printOut(
      `undid the restore of ${plan.replacedBy}; kept until ${formatTime(kept.keepUntil)}: ${[kept.database, kept.media].filter(Boolean).join(" and ")} (undo-restore again puts them back)${kept.left.length ? `\n${kept.left.join("\n")}` : ""}`,
    );
}

async function cleanupAction(flags: CleanupFlags): Promise<void> {
  const { settings, log, store } = settingsFor(flags, {});
  // Without --older-than each kept record's own keepUntil (the time its restore printed) decides.
  const olderThan = flags.olderThan === undefined ? undefined : Number(flags.olderThan);
  if (!/^\d+(\.\d+)?$/.test(flags.olderThan ?? "0"))
    throw new ConfigError([`--older-than: must be a number of hours (got "${flags.olderThan}")`]);
  const targets = {
    connection: settings.database ?? undefined,
    database: settings.database ? settings.targetDatabase : undefined,
    // Resolved as restore, undo and status resolve it (a link's target, no trailing slash): the
    // kept records name the resolved folder.
    mediaDir: settings.mediaDir ? (await acceptRestoreTarget(settings.mediaDir, {})).dir : undefined,
  };
  if (!targets.database && !targets.mediaDir)
    throw new ConfigError(["DATABASE_URL or MEDIA_DIR (--database-url, --media-dir): name what to clean up beside"]);
  const planned = await runCleanup(targets, { olderThanHours: olderThan, dryRun: true }, { log, store });
  const lines = planned.removed.map((c) => `  ${c.kind} ${c.where} ${c.name} (run ${c.runId})`);
  if (flags.dryRun || planned.removed.length === 0) {
    printOut(planned.removed.length ? `would remove:\n${lines.join("\n")}` : "nothing to clean up");
    return;
  }
  await confirmOrRefuse(`Remove these copies?\n${lines.join("\n")}`, Boolean(flags.yes));
  const done = await runCleanup(targets, { olderThanHours: olderThan }, { log, store });
  printOut(`removed ${done.removed.length} cop${done.removed.length === 1 ? "y" : "ies"}`);
}

export function registerUndoCommands(program: Command): void {
  addDestinationOptions(
    program
      .command("undo-restore")
      .description("put back the database and media folder the last restore of this target kept (verified first)"),
  )
    .option("--database-only", "put back only the database")
    .option("--media-only", "put back only the media folder")
    .option("--target-db <name>", "the database the restore replaced (default: the connection's database)")
    .option("--media-dir <path>", "the media folder the restore replaced (env MEDIA_DIR)")
    .option("--database-url <url>", "postgres:// URL of the server (env DATABASE_URL)")
    .option("--terminate-connections", "disconnect sessions still using the database at swap time")
    .option(
      "--discard-changes",
      "undo although rows or files changed since the restore (the current contents are kept like any replaced copy)",
    )
    .option("--yes", "do not ask for confirmation (required without a terminal)")
    .action((flags: UndoFlags) => undoAction(flags));
  addDestinationOptions(
    program
      .command("cleanup")
      .description(
        "drop kept copies of earlier restores whose keep window (printed by the restore) is over, and staging copies of killed runs",
      ),
  )
    .option(
      "--older-than <hours>",
      "drop kept copies kept at least this many hours ago, whatever their window (0: all)",
    )
    .option("--dry-run", "only list what would be removed")
    .option("--target-db <name>", "the database whose copies to drop (default: the connection's database)")
    .option("--media-dir <path>", "the media folder whose copies to drop (env MEDIA_DIR)")
    .option("--database-url <url>", "postgres:// URL of the server (env DATABASE_URL)")
    .option("--yes", "do not ask for confirmation (required without a terminal)")
    .action((flags: CleanupFlags) => cleanupAction(flags));
}
