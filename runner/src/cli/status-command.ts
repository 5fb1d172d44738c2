import type { Command } from "commander";
import { RunnerError } from "../errors.js";
import { renderStatusTable, runStatus, unhealthyMessage } from "../commands/status.js";
import { statusSettingsFromEnv } from "../staleness.js";
import { addDestinationOptions, openContext, printOut, type DestinationFlags } from "./shared.js";

interface StatusFlags extends DestinationFlags {
  json?: boolean;
}

async function statusAction(flags: StatusFlags): Promise<void> {
  const { settings, store } = openContext(flags);
  const report = await runStatus(store, statusSettingsFromEnv(settings.env));
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
    .action((flags: StatusFlags) => statusAction(flags));
}
