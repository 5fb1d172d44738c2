import type { Command } from "commander";
import { resolveBackup } from "../catalog.js";
import type { RunnerEnv, Tier } from "../contract.js";
import { loadRestoreSettings, mergeEnv } from "../config.js";
import { RunnerError, errorMessage } from "../errors.js";
import { createLogger, type Logger } from "../logger.js";
import { DrillReporter, drillPayload } from "../notify/drill-reporter.js";
import { notifyTargetsFromEnv } from "../notify/run-reporter.js";
import { redact } from "../redact.js";
import { openStore } from "../store/open-store.js";
import { runDrill, type DrillReport } from "../commands/drill.js";
import {
  addDestinationOptions,
  destinationOverrides,
  printOut,
  signalController,
  tierOption,
  type DestinationFlags,
} from "./shared.js";

interface DrillFlags extends DestinationFlags {
  tier?: Tier;
  databaseUrl?: string;
  scratchDb?: string;
  scratchDir?: string;
  json?: boolean;
}

async function drillAction(ref: string | undefined, flags: DrillFlags): Promise<void> {
  const overrides: RunnerEnv = { ...destinationOverrides(flags), DATABASE_URL: flags.databaseUrl };
  // Set up before the settings are validated, so a drill that cannot even start still reports.
  const raw = mergeEnv(process.env, overrides);
  const targets = notifyTargetsFromEnv(raw);
  const reporter = new DrillReporter(targets);
  const { app } = targets;
  let log: Logger = createLogger({
    format: raw.LOG_FORMAT === "pretty" ? "pretty" : "json",
    level: "info",
    destination: flags.json ? process.stderr : undefined,
  });
  reporter.start(log);
  let report: DrillReport;
  try {
    const settings = loadRestoreSettings(
      { processEnv: process.env, overrides, isTty: Boolean(process.stdout.isTTY) },
      { needsMediaTarget: false },
    );
    log = createLogger({
      format: settings.logFormat,
      level: settings.logLevel,
      secrets: settings.database?.secrets,
      destination: flags.json ? process.stderr : undefined,
    });
    // Drills always read a destination (loadRestoreSettings requires one unless fromArchive).
    const store = openStore(settings.destination!, settings.s3Endpoint);
    const set = await resolveBackup(store, ref ?? "latest", flags.tier);
    report = await runDrill(
      set,
      settings,
      { scratchDatabase: flags.scratchDb, scratchParent: flags.scratchDir },
      { store, log, signal: signalController().signal },
    );
  } catch (error) {
    await reporter.finish(drillPayload(app, { error: redact(errorMessage(error)), tier: flags.tier }), log);
    throw error;
  }
  await reporter.finish(drillPayload(app, { report }), log);
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
