import type { Command } from "commander";
import { ConfigError, RunnerError } from "../errors.js";
import { publishStatusMetrics, renderStatusTable, runStatus, unhealthyMessage } from "../commands/status.js";
import { DEFAULT_STATUS_GRACE_HOURS, DEFAULT_STATUS_TIERS, type ParsedRunnerEnv } from "../contract.js";
import { resolvePgConnection } from "../pg/connection.js";
import { resolvePath } from "../paths/real-path.js";
import { mediaCopySites, type CopySites } from "../restore/run-copies.js";
import { firstRunProblems, statusSettingsFromEnv } from "../catalog/staleness.js";
import { addDestinationOptions, openContext, printOut, type DestinationFlags } from "./shared.js";

interface StatusFlags extends DestinationFlags {
  json?: boolean;
  publishMetrics?: boolean;
}

/**
 * Where restores and drills may have left copies, from the settings the pod already has:
 * MEDIA_DIR (beside and inside it) and the database server (DATABASE_URL or PG*), when set.
 */
async function copySites(
  env: ParsedRunnerEnv,
): Promise<{ sites: CopySites; targets: { database?: string; mediaDir?: string } }> {
  const connection = resolvePgConnection(env.DATABASE_URL, process.env);
  // The resolved folder, as restores use it (a link's target).
  const media = env.MEDIA_DIR?.startsWith("/") ? (await resolvePath(env.MEDIA_DIR)).real : undefined;
  const pg = typeof connection === "string" ? undefined : connection;
  return {
    sites: { connection: pg, folders: media && media !== "/" ? mediaCopySites(media) : [] },
    targets: { database: pg?.database, mediaDir: media && media !== "/" ? media : undefined },
  };
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
  const now = new Date();
  const statusSettings = statusSettingsFromEnv(settings.env);
  const firstRunsWrong = firstRunProblems(statusSettings, now);
  if (firstRunsWrong.length) throw new ConfigError(firstRunsWrong);
  const { sites, targets } = await copySites(settings.env);
  const report = await runStatus(store, statusSettings, now, sites, targets);
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
        `check that each expected tier (env STATUS_TIERS, default ${DEFAULT_STATUS_TIERS.join(",")}) has a recent complete backup; ` +
          `exit 1 when one is stale or missing (grace: env STATUS_GRACE_HOURS, default ${DEFAULT_STATUS_GRACE_HOURS})`,
      ),
  )
    .option("--json", "print one JSON object instead of a table")
    .option(
      "--publish-metrics",
      "also publish each tier's NewestBackupAgeSeconds to CloudWatch (env CLOUDWATCH_NAMESPACE; dimensions App, Tier) for the stack's alarms",
    )
    .action((flags: StatusFlags) => statusAction(flags));
}
