import type { Command } from "commander";
import { z } from "zod";
import { TIERS } from "../contract.js";
import { listEntries, readBackupSets, renderListTable } from "../commands/list.js";
import { checkUnfinishedUploads, unfinishedUploadsLines } from "../catalog/unfinished-uploads.js";
import { outputWidth, wrapText } from "../output/fit-width.js";
import { addDestinationOptions, openContext, printOut, tierOption, type DestinationFlags } from "./shared.js";

interface ListFlags extends DestinationFlags {
  tier?: string;
  json?: boolean;
}

async function listAction(flags: ListFlags): Promise<void> {
  // commander already restricts --tier to the choices; zod narrows the type without a cast.
  const tier = z.enum(TIERS).optional().parse(flags.tier);
  // The report is stdout; logs (debug ones included) go to stderr so --json stays parseable.
  const { store } = openContext(flags, {}, { logToStderr: true });
  const entries = listEntries(await readBackupSets(store, tier), new Date(), tier);
  // --json stays the array of sets it always was; unfinished uploads are in `status --json`.
  if (flags.json) return printOut(JSON.stringify(entries, null, 2));
  const uploads = unfinishedUploadsLines(await checkUnfinishedUploads(store, new Date()), store.display);
  const width = outputWidth();
  printOut(
    [
      renderListTable(entries, tier ? `${store.display} (tier ${tier})` : store.display, width),
      ...uploads.map((line) => (width ? wrapText(line, width) : line)),
    ].join("\n"),
  );
}

export function registerListCommand(program: Command): void {
  addDestinationOptions(
    program
      .command("list")
      .description("list every backup set, newest first, with its size, duration and whether it is complete")
      .addOption(tierOption("only this tier")),
  )
    .option("--json", "print one JSON array (newest first) instead of a table")
    .action((flags: ListFlags) => listAction(flags));
}
