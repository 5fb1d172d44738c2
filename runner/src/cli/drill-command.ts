import type { Command } from "commander";
import { resolveBackup } from "../catalog.js";
import type { RunnerEnv, Tier } from "../contract.js";
import { loadRestoreSettings } from "../config.js";
import { RunnerError } from "../errors.js";
import { drillPayload, drillReport } from "../notify/drill-reporter.js";
import { openStore } from "../store/open-store.js";
import { runDrill, type DrillReport } from "../commands/drill.js";
import {
  addDestinationOptions,
  destinationOverrides,
  printOut,
  signalController,
  tierOption,
  withUnlockedSet,
  type DestinationFlags,
} from "./shared.js";
import { reportedRun } from "./reported-run.js";

interface DrillFlags extends DestinationFlags {
  tier?: Tier;
  databaseUrl?: string;
  scratchDb?: string;
  scratchDir?: string;
  json?: boolean;
}

async function drillAction(ref: string | undefined, flags: DrillFlags): Promise<void> {
  const overrides: RunnerEnv = { ...destinationOverrides(flags), DATABASE_URL: flags.databaseUrl };
  const report = await reportedRun({
    overrides,
    kind: drillReport,
    // With --json stdout carries the report, so the log goes to stderr.
    logTo: flags.json ? process.stderr : process.stdout,
    settings: (options) => loadRestoreSettings(options, { needsMediaTarget: false }),
    run: async (settings, log): Promise<DrillReport> => {
      // Drills always read a destination (loadRestoreSettings requires one unless fromArchive).
      const store = openStore(settings.destination!, settings.s3Endpoint);
      const found = await resolveBackup(store, ref ?? "latest", flags.tier);
      return withUnlockedSet(store, found, settings.identity, (set, identity) =>
        runDrill(
          set,
          settings,
          { scratchDatabase: flags.scratchDb, scratchParent: flags.scratchDir },
          { store, log, signal: signalController().signal, identity },
        ),
      );
    },
    succeeded: (result, { app }) => drillPayload(app, { report: result }),
    failed: (error, { app }) => drillPayload(app, { error, tier: flags.tier }),
  });
  if (flags.json) printOut(JSON.stringify(report));
  else if (process.stdout.isTTY) {
    printOut(
      [
        `drill ${report.tier}/${report.backupId}: ${report.ok ? "PASSED" : "FAILED"} (restore took ${report.restoreSeconds.toFixed(1)} s)`,
      ]
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

export function registerDrillCommand(program: Command): void {
  addDestinationOptions(
    program
      .command("drill")
      .description(
        "restore test: restore into a scratch database and folder, compare with the manifest, drop them (exit 0 pass, 1 fail)",
      )
      .argument("[backup]", "backup id or 'latest' (default)")
      .addOption(tierOption("tier to pick 'latest' from")),
  )
    .option(
      "--database-url <url>",
      "postgres:// URL of the server to restore the scratch database on (env DATABASE_URL)",
    )
    .option("--scratch-db <name>", "name of the scratch database (default <database>__edms_staging_<run id>)")
    .option("--scratch-dir <path>", "folder for the temporary media copy (default the system temp folder)")
    .option("--json", "print the report as JSON")
    .action((ref: string | undefined, flags: DrillFlags) => drillAction(ref, flags));
}
