import type { Command } from "commander";
import { ConfigError, RunnerError } from "../errors.js";
import { publishStatusMetrics, renderStatusTable, runStatus, unhealthyMessage } from "../commands/status.js";
import { statusSettingsFromEnv } from "../staleness.js";
import { addDestinationOptions, openContext, printOut, type DestinationFlags } from "./shared.js";

interface StatusFlags extends DestinationFlags {
  json?: boolean;
  publishMetrics?: boolean;
}

async function statusAction(flags: StatusFlags): Promise<void> {
  // The report is stdout; logs go to stderr so --json stays parseable.
  const { settings, store, log } = openContext(flags, {}, { logToStderr: true });
  const namespace = settings.env.CLOUDWATCH_NAMESPACE;
  if (flags.publishMetrics && !namespace) {
    throw new ConfigError([
      "CLOUDWATCH_NAMESPACE: required with --publish-metrics (the CloudWatch namespace the alarms watch, e.g. EDMS/Backup)",
    ]);
  }
  const report = await runStatus(store, statusSettingsFromEnv(settings.env));
  if (flags.publishMetrics && namespace) {
    // Published before the verdict: a stale tier is exactly what the alarms need to see.
    report.published = await publishStatusMetrics(report, settings.appName, namespace);
    log.info(
      { stage: "metrics", namespace, metric: report.published.metric, ages: report.published.ages },
      "newest-backup ages published to CloudWatch",
    );
  }
  printOut(flags.json ? JSON.stringify(report, null, 2) : renderStatusTable(report));
  // Exit 1 makes `status` usable as a probe (a CronJob, a monitoring check) without parsing output.
  const problem = unhealthyMessage(report);
  if (problem) throw new RunnerError(problem);
}

export function registerStatusCommand(program: Command): void {
  addDestinationOptions(
    program
      .command("status")
      .description(
        "check that each expected tier (env STATUS_TIERS, default daily,weekly,monthly) has a recent complete backup; " +
          "exit 1 when one is stale or missing (grace: env STATUS_GRACE_HOURS, default 6)",
      ),
  )
    .option("--json", "print one JSON object instead of a table")
    .option(
      "--publish-metrics",
      "also publish each tier's NewestBackupAgeSeconds to CloudWatch (env CLOUDWATCH_NAMESPACE; dimensions App, Tier) for the stack's alarms",
    )
    .action((flags: StatusFlags) => statusAction(flags));
}
