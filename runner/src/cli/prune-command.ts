import type { Command } from "commander";
import { renderGcReport, runGc, type GcReport } from "../commands/gc.js";
import { renderPruneTable, runPrune, s3PruneReport, type PruneReport } from "../commands/prune.js";
import { DEFAULT_STORE_GC_GRACE_HOURS, retentionEnvName, STORE_PREFIX, TIERS } from "../contract.js";
import type { ObjectStore } from "../store/object-store.js";
import { retentionFromEnv } from "../catalog/retention.js";
import { FileStore } from "../store/file-store.js";
import { addDestinationOptions, openContext, printOut, type DestinationFlags } from "./shared.js";

interface PruneFlags extends DestinationFlags {
  dryRun?: boolean;
  json?: boolean;
}

/** Whether the destination has a content store (so a tar-only folder never gets a store/ folder). */
async function hasStore(store: ObjectStore): Promise<boolean> {
  for await (const _ of store.list(`${STORE_PREFIX}/`)) return true;
  return false;
}

async function pruneAction(flags: PruneFlags): Promise<void> {
  const { settings, store, log } = openContext(flags, {}, { logToStderr: flags.json });
  const retentionDays = retentionFromEnv(settings.env);
  const dryRun = flags.dryRun ?? false;
  // On S3 the bucket's lifecycle rules are the single enforcer; a second one could only disagree.
  const report: PruneReport & { gc?: GcReport } =
    store instanceof FileStore
      ? await runPrune(store, { retentionDays, dryRun })
      : s3PruneReport(store.display, retentionDays, dryRun, new Date());
  // A folder has no gc CronJob: the content objects the pruned sets used are freed here, by the
  // same gc (its grace and records), after the sets are gone.
  if (store instanceof FileStore && (await hasStore(store)))
    report.gc = await runGc(store, {
      graceHours: settings.env.MEDIA_STORE_GC_GRACE_HOURS ?? DEFAULT_STORE_GC_GRACE_HOURS,
      dryRun,
      log,
    });
  const gcLines = report.gc ? `\n${renderGcReport(report.gc).replace(/^/gm, "gc: ")}` : "";
  printOut(flags.json ? JSON.stringify(report, null, 2) : `${renderPruneTable(report)}${gcLines}`);
}

export function registerPruneCommand(program: Command): void {
  addDestinationOptions(
    program
      .command("prune")
      .description(
        `delete backup sets older than their tier's retention (env ${TIERS.map(retentionEnvName).join(", ")}) from a file:// destination; ` +
          "keeps the newest complete set of each tier, then runs gc on the media store; on s3:// the bucket's lifecycle rules (and the gc CronJob) do this",
      ),
  )
    .option("--dry-run", "show what would be deleted, delete nothing")
    .option("--json", "print one JSON object instead of a table")
    .action((flags: PruneFlags) => pruneAction(flags));
}
