/**
 * `cleanup`: drops the copies earlier restores kept for an undo once their keep window is over,
 * and staging copies of killed runs (commands/cleanup.ts decides which; this file parses flags,
 * asks, prints).
 */
import type { Command } from "commander";
import { runCleanup } from "../commands/cleanup.js";
import { ConfigError } from "../errors.js";
import { confirmOrRefuse } from "../output/confirm.js";
import { acceptRestoreTarget } from "../restore/restore-target.js";
import { formatTime } from "../commands/list.js";
import { addDestinationOptions, keptCopySettings, printOut, printReadable, type DestinationFlags } from "./shared.js";

interface CleanupFlags extends DestinationFlags {
  targetDb?: string;
  mediaDir?: string;
  databaseUrl?: string;
  olderThan?: string;
  dryRun?: boolean;
  yes?: boolean;
}

/** "Nothing to clean up", and what `status` lists meanwhile: the kept copies, until when, and how to drop them now. */
function nothingToCleanUp(
  waiting: ReadonlyArray<{ copy: { where: string; name: string }; keepUntil: string }>,
): string {
  if (!waiting.length) return "nothing to clean up";
  const kept = waiting.map(
    (w) => `  kept ${w.copy.where} ${w.copy.name} stays until ${formatTime(w.keepUntil)} (for undo-restore)`,
  );
  return `nothing to clean up yet:\n${kept.join("\n")}\nto drop ${waiting.length === 1 ? "it" : "them"} now: edms-backup cleanup --older-than 0`;
}

async function cleanupAction(flags: CleanupFlags): Promise<void> {
  const { settings, log, store } = keptCopySettings(flags, {});
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
    printReadable(planned.removed.length ? `would remove:\n${lines.join("\n")}` : nothingToCleanUp(planned.waiting));
    return;
  }
  await confirmOrRefuse(`Remove these copies?\n${lines.join("\n")}`, Boolean(flags.yes));
  const done = await runCleanup(targets, { olderThanHours: olderThan }, { log, store });
  printOut(`removed ${done.removed.length} cop${done.removed.length === 1 ? "y" : "ies"}`);
}

export function registerCleanupCommand(program: Command): void {
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
