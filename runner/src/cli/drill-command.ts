import type { Command } from "commander";
import { resolveBackup } from "../catalog/catalog.js";
import { DEFAULT_DRILL_TIERS, type RunnerEnv, type ScheduledTier, type Tier } from "../contract.js";
import { loadRestoreSettings, type RestoreSettings } from "../settings/config.js";
import { firstRotatingSet, recordDrillOutcome } from "../drill/drill-outcome.js";
import { describeDrillMedia } from "../drill/drill-record.js";
import { rotationOrder } from "../drill/drill-rotation.js";
import { ConfigError, RunnerError } from "../errors.js";
import { drillPayload, drillReport } from "../notify/drill-reporter.js";
import { openStore } from "../store/open-store.js";
import { runDrill, type DrillReport } from "../commands/drill.js";
import {
  addDestinationOptions,
  destinationOverrides,
  printOut,
  printReadable,
  wantsReadableSummary,
  signalController,
  tierOption,
  withUnlockedSet,
  type DestinationFlags,
} from "./shared.js";
import { reportedRun } from "./reported-run.js";

interface DrillFlags extends DestinationFlags {
  tier?: Tier;
  rotate?: boolean;
  databaseUrl?: string;
  scratchDb?: string;
  scratchDir?: string;
  json?: boolean;
}

async function drillAction(ref: string | undefined, flags: DrillFlags): Promise<void> {
  // DRILL_DATABASE_URL: drill onto another server than the one backed up (a new-server drill).
  const overrides: RunnerEnv = {
    ...destinationOverrides(flags),
    DATABASE_URL: flags.databaseUrl ?? (process.env.DRILL_DATABASE_URL || undefined),
  };
  let tier = flags.tier;
  const report = await reportedRun({
    overrides,
    kind: drillReport,
    // With --json stdout carries the report, so the log goes to stderr.
    logTo: flags.json ? process.stderr : process.stdout,
    settings: (options) => loadRestoreSettings(options, { needsMediaTarget: false }),
    run: async (settings, log): Promise<DrillReport> => {
      const order = flags.rotate ? rotatingTiers(ref, flags, settings) : undefined;
      if (order) tier = order[0];
      // Drills always read a destination (loadRestoreSettings requires one unless fromArchive).
      const store = openStore(settings.destination!, settings.s3Endpoint);
      let report: DrillReport;
      try {
        const found = order
          ? await firstRotatingSet(store, order, log)
          : await resolveBackup(store, ref ?? "latest", tier);
        tier = found.tier as ScheduledTier;
        report = await withUnlockedSet(store, found, settings.identity, (set, identity) =>
          runDrill(
            set,
            settings,
            { scratchDatabase: flags.scratchDb, scratchParent: flags.scratchDir },
            { store, log, signal: signalController().signal, identity },
          ),
        );
      } catch (error) {
        // A drill that could not run is a failed drill for whoever watches the drills.
        await recordDrillOutcome(store, settings, { ok: false, tier }, log);
        throw error;
      }
      await recordDrillOutcome(
        store,
        settings,
        {
          ok: report.ok,
          tier: report.tier,
          backupId: report.backupId,
          restoreSeconds: report.restoreSeconds,
          media: report.media,
        },
        log,
      );
      return report;
    },
    succeeded: (result, { app }) => drillPayload(app, { report: result }),
    failed: (error, { app }) => drillPayload(app, { error, tier }),
  });
  if (flags.json) printOut(JSON.stringify(report));
  else if (wantsReadableSummary(flags.logFormat)) {
    printReadable(
      [
        `drill ${report.tier}/${report.backupId}: ${report.ok ? "PASSED" : "FAILED"} (restore took ${report.restoreSeconds.toFixed(1)} s)`,
      ]
        .concat(report.media ? [`  media check: ${describeDrillMedia(report.media)}`] : [])
        .concat(report.checks.map((c) => `  ${c.ok ? "ok  " : "FAIL"} ${c.name}: ${c.detail}`))
        .join("\n"),
    );
  }
  if (!report.ok) {
    const failed = report.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
    throw new RunnerError(
      `drill of ${report.tier}/${report.backupId} FAILED: ${failed.join("; ") || "nothing was checked"}`,
    );
  }
}

/** `--rotate`: DRILL_TIERS (default every scheduled tier) from this week's on, see drill-rotation.ts. */
function rotatingTiers(ref: string | undefined, flags: DrillFlags, settings: RestoreSettings): ScheduledTier[] {
  // Every conflict at once, before anything is read: --rotate picks the set itself.
  const problems: string[] = [];
  if (flags.tier) problems.push("--rotate and --tier: give one of them, not both");
  if (ref !== undefined && ref !== "latest")
    problems.push(
      `--rotate and a backup id (${JSON.stringify(ref)}): --rotate drills the newest set of the week's tier; give one of them, not both`,
    );
  if (problems.length) throw new ConfigError(problems);
  const tiers = settings.env.DRILL_TIERS
    ? (settings.env.DRILL_TIERS.split(",") as ScheduledTier[])
    : DEFAULT_DRILL_TIERS;
  return rotationOrder(new Date(), tiers);
}

export function registerDrillCommand(program: Command): void {
  addDestinationOptions(
    program
      .command("drill")
      .description(
        "restore test: restore into a scratch database and folder, compare with the manifest, drop them (exit 0 pass, 1 fail)",
      )
      .argument("[backup]", "backup id or 'latest' (default)")
      .addOption(tierOption("tier to pick 'latest' from"))
      .option(
        "--rotate",
        `pick the tier by week: ${DEFAULT_DRILL_TIERS.join(", ")} in turn (env DRILL_TIERS), as the drill CronJob does`,
      ),
  )
    .option(
      "--database-url <url>",
      "postgres:// URL of the server to restore the scratch database on (env DRILL_DATABASE_URL, else DATABASE_URL)",
    )
    .option("--scratch-db <name>", "name of the scratch database (default <database>__edms_staging_<run id>)")
    .option("--scratch-dir <path>", "folder for the temporary media copy (default the system temp folder)")
    .option("--json", "print the report as JSON")
    .action((ref: string | undefined, flags: DrillFlags) => drillAction(ref, flags));
}
