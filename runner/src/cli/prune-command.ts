import type { Command } from "commander";
import { renderPruneTable, runPrune, s3PruneReport } from "../commands/prune.js";
import { retentionFromEnv } from "../catalog/retention.js";
import { FileStore } from "../store/file-store.js";
import { addDestinationOptions, openContext, printOut, type DestinationFlags } from "./shared.js";

interface PruneFlags extends DestinationFlags {
  dryRun?: boolean;
  json?: boolean;
}

async function pruneAction(flags: PruneFlags): Promise<void> {
  const { settings, store } = openContext(flags, {}, { logToStderr: flags.json });
  const retentionDays = retentionFromEnv(settings.env);
  const dryRun = flags.dryRun ?? false;
  // On S3 the bucket's lifecycle rules are the single enforcer; a second one could only disagree.
  const report =
    store instanceof FileStore
      ? await runPrune(store, { retentionDays, dryRun })
      : s3PruneReport(store.display, retentionDays, dryRun, new Date());
  printOut(flags.json ? JSON.stringify(report, null, 2) : renderPruneTable(report));
}

export function registerPruneCommand(program: Command): void {
  addDestinationOptions(
    program
      .command("prune")
      .description(
        "delete backup sets older than their tier's retention (env RETENTION_DAYS_DAILY/WEEKLY/MONTHLY/ADHOC) from a file:// destination; " +
          "keeps the newest complete set of each tier; on s3:// the bucket's lifecycle rules do this",
      ),
  )
    .option("--dry-run", "show what would be deleted, delete nothing")
    .option("--json", "print one JSON object instead of a table")
    .action((flags: PruneFlags) => pruneAction(flags));
}
