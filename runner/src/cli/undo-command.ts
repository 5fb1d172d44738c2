import type { Command } from "commander";
import { confirmOrRefuse } from "../output/confirm.js";
import { describeUndo, planUndo, runUndoRestore } from "../commands/undo-restore.js";
import { formatTime } from "../commands/list.js";
import {
  addDestinationOptions,
  keptCopySettings,
  printReadable,
  signalController,
  wantsReadableSummary,
  type ReplaceFlags,
} from "./shared.js";

type UndoFlags = ReplaceFlags & { discardChanges?: boolean };

async function undoAction(flags: UndoFlags): Promise<void> {
  // loadRestoreSettings refuses --database-only with --media-only (exit 2) with every other problem.
  const { settings, log, store } = keptCopySettings(flags, flags);
  // Installed before anything is read: SIGTERM must reach the undo's own handling (stop before the
  // swap, finish a swap that has started), never end the process between two renames.
  const signals = signalController();
  const plan = await planUndo(settings, flags, store, log);
  await confirmOrRefuse(describeUndo(plan), Boolean(flags.yes));
  const kept = await runUndoRestore(plan, settings, flags, { store, log, signal: signals.signal });
  if (wantsReadableSummary(flags.logFormat))
    printReadable(
      `undid the restore of ${plan.replacedBy}; kept until ${formatTime(kept.keepUntil)}: ${[kept.database, kept.media].filter(Boolean).join(" and ")} (undo-restore again puts them back)${kept.left.length ? `\n${kept.left.join("\n")}` : ""}`,
    );
}

export function registerUndoCommand(program: Command): void {
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
}
