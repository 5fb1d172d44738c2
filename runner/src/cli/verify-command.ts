import type { Command } from "commander";
import { resolveBackup } from "../catalog.js";
import type { Tier } from "../contract.js";
import { RunnerError } from "../errors.js";
import { verifyBackup } from "../commands/verify.js";
import { addDestinationOptions, openContext, printOut, tierOption, type DestinationFlags } from "./shared.js";

interface VerifyFlags extends DestinationFlags {
  tier?: Tier;
  json?: boolean;
}

async function verifyAction(ref: string, flags: VerifyFlags): Promise<void> {
  const { settings, store, log } = openContext(flags, {}, { logToStderr: flags.json });
  const set = await resolveBackup(store, ref, flags.tier);
  const report = await verifyBackup(set, { store, log, pgBinDir: settings.pgBinDir });
  if (flags.json) printOut(JSON.stringify(report));
  if (!report.ok) {
    throw new RunnerError(
      `verify ${set.tier}/${set.backupId} FAILED:\n${report.problems.map((p) => `  - ${p}`).join("\n")}`,
    );
  }
  if (!flags.json)
    printOut(
      [
        `verify ${set.tier}/${set.backupId}: ok (${report.checked.join(" and ")} match the manifest)`,
        ...report.warnings.map((w) => `WARNING: ${w}`),
      ].join("\n"),
    );
}

export function registerVerifyCommand(program: Command): void {
  addDestinationOptions(
    program
      .command("verify")
      .description("re-read a backup set and check it against its manifest (exit 0 ok, 1 with what is wrong)")
      .argument("<backup>", "backup id or 'latest'")
      .addOption(tierOption("tier to pick 'latest' from")),
  )
    .option("--json", "print the report as JSON")
    .action((ref: string, flags: VerifyFlags) => verifyAction(ref, flags));
}
