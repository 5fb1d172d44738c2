import path from "node:path";
import { Option, type Command } from "commander";
import { TIERS, type Tier } from "../contract.js";
import { importArchive } from "../commands/import.js";
import { openSeedArchive } from "../legacy/seed-archive.js";
import { addDestinationOptions, openContext, printOut, type DestinationFlags } from "./shared.js";

interface ImportFlags extends DestinationFlags {
  tier: Tier;
}

async function importAction(file: string, flags: ImportFlags): Promise<void> {
  const { store, log } = openContext(flags);
  const archive = await openSeedArchive(path.resolve(file));
  const manifest = await importArchive(archive, flags.tier, { store, log });
  if (process.stdout.isTTY) printOut(`imported ${file} as ${manifest.tier}/${manifest.backupId}`);
}

export function registerImportCommand(program: Command): void {
  addDestinationOptions(
    program
      .command("import")
      .description(
        "store a backup-hybrid.sh archive (backups/backup_YYYYMMDD_HHMMSS.tar.gz) as a backup set at the destination",
      )
      .argument("<archive>", "the .tar.gz made by backup-hybrid.sh")
      .addOption(new Option("--tier <tier>", "tier to file it under").choices(TIERS).default("adhoc")),
  ).action((file: string, flags: ImportFlags) => importAction(file, flags));
}
