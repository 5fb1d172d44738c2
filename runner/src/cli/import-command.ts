import path from "node:path";
import { Option, type Command } from "commander";
import { MANUAL_TIER, TIERS, type Tier } from "../contract.js";
import { importArchive } from "../commands/import.js";
import { openSeedArchive } from "../legacy/seed-archive.js";
import { encryptionSettings } from "../settings/config.js";
import { refusePlaintextBesideEncrypted } from "../encryption/recipients.js";
import { addDestinationOptions, openContext, printOut, type DestinationFlags } from "./shared.js";

interface ImportFlags extends DestinationFlags {
  tier: Tier;
  encryptTo?: string;
  allowPlaintext?: boolean;
}

async function importAction(file: string, flags: ImportFlags): Promise<void> {
  const { settings, store, log } = openContext(flags, {
    ENCRYPTION_RECIPIENTS: flags.encryptTo,
    ALLOW_PLAINTEXT: flags.allowPlaintext ? "true" : undefined,
  });
  const recipients = encryptionSettings(settings.env)?.recipients;
  await refusePlaintextBesideEncrypted(store, recipients, settings.env.ALLOW_PLAINTEXT);
  const archive = await openSeedArchive(path.resolve(file));
  const manifest = await importArchive(archive, flags.tier, { store, log, recipients });
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
      .addOption(new Option("--tier <tier>", "tier to file it under").choices(TIERS).default(MANUAL_TIER)),
  )
    .option(
      "--encrypt-to <recipients>",
      "encrypt the imported objects with age to these X25519 recipients (env ENCRYPTION_RECIPIENTS)",
    )
    .option(
      "--allow-plaintext",
      "store it unencrypted even though the destination's newest set is encrypted (env ALLOW_PLAINTEXT)",
    )
    .action((file: string, flags: ImportFlags) => importAction(file, flags));
}
