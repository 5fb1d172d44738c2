/**
 * The edms-backup command line. Each command turns flags + environment into validated settings,
 * runs, and ends with exit 0, or a single message and a non-zero exit: 1 for a failed run, 2 for
 * bad input, 130/143 when stopped by SIGINT/SIGTERM.
 */
import { Command, CommanderError, Option } from "commander";
import type { RunnerEnv } from "./contract.js";
import { TIERS, TRIGGERS, COMPRESSIONS } from "./contract.js";
import { loadBackupSettings } from "./config.js";
import { ConfigError, RunnerError, errorMessage } from "./errors.js";
import { createLogger } from "./logger.js";
import { redact } from "./redact.js";
import { openStore } from "./store/open-store.js";
import { runBackup } from "./commands/backup.js";
import { RUNNER_VERSION } from "./version.js";

interface BackupFlags {
  tier?: string;
  trigger?: string;
  destination?: string;
  mediaDir?: string;
  databaseUrl?: string;
  s3Endpoint?: string;
  appVersion?: string;
  compression?: string;
  compressionLevel?: string;
  logFormat?: string;
  media: boolean;
  database: boolean;
}

/** Stops the run on SIGTERM (Kubernetes) or SIGINT (Ctrl-C); the signal name is the reason. */
function signalController(): AbortController {
  const controller = new AbortController();
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.on(signal, () => {
      if (controller.signal.aborted) process.exit(signal === "SIGINT" ? 130 : 143); // second signal: give up now
      controller.abort(signal);
    });
  }
  return controller;
}

function commonFlags(flags: Pick<BackupFlags, "destination" | "s3Endpoint" | "logFormat">): RunnerEnv {
  return { BACKUP_DESTINATION: flags.destination, S3_ENDPOINT: flags.s3Endpoint, LOG_FORMAT: flags.logFormat };
}

async function backupCommand(flags: BackupFlags): Promise<void> {
  const overrides: RunnerEnv = {
    ...commonFlags(flags),
    BACKUP_TIER: flags.tier,
    BACKUP_TRIGGER: flags.trigger,
    MEDIA_DIR: flags.mediaDir,
    DATABASE_URL: flags.databaseUrl,
    APP_VERSION: flags.appVersion,
    MEDIA_COMPRESSION: flags.compression,
    MEDIA_COMPRESSION_LEVEL: flags.compressionLevel,
    ...(flags.media ? {} : { BACKUP_MEDIA: "false" }),
    ...(flags.database ? {} : { BACKUP_DATABASE: "false" }),
  };
  const settings = loadBackupSettings({ processEnv: process.env, overrides, isTty: Boolean(process.stdout.isTTY) });
  const log = createLogger({ format: settings.logFormat, level: settings.logLevel, secrets: settings.database?.secrets });
  const store = openStore(settings.destination, settings.s3Endpoint);
  await runBackup(settings, { store, log, signal: signalController().signal });
}

export function buildProgram(): Command {
  const program = new Command("edms-backup")
    .description("Tiered, verified, restorable backups of PostgreSQL + a media folder")
    .version(RUNNER_VERSION)
    .exitOverride()
    .showHelpAfterError();

  program
    .command("backup")
    .description("back up the database and the media folder as one backup set")
    .addOption(new Option("--tier <tier>", "backup tier (env BACKUP_TIER)").choices(TIERS))
    .addOption(new Option("--trigger <trigger>", "schedule or manual (env BACKUP_TRIGGER)").choices(TRIGGERS))
    .option("--destination <url>", "s3://bucket/prefix or file:///path (env BACKUP_DESTINATION)")
    .option("--media-dir <path>", "media folder (env MEDIA_DIR)")
    .option("--database-url <url>", "postgres:// URL (env DATABASE_URL; prefer the env, flags are visible in ps)")
    .option("--s3-endpoint <url>", "S3-compatible endpoint (env S3_ENDPOINT)")
    .option("--app-version <version>", "application version for the manifest (env APP_VERSION)")
    .addOption(new Option("--compression <kind>", "media compression (env MEDIA_COMPRESSION)").choices(COMPRESSIONS))
    .option("--compression-level <n>", "media compression level (env MEDIA_COMPRESSION_LEVEL)")
    .addOption(new Option("--log-format <format>", "json or pretty (env LOG_FORMAT)").choices(["json", "pretty"]))
    .option("--no-media", "skip the media folder (env BACKUP_MEDIA=false)")
    .option("--no-database", "skip the database (env BACKUP_DATABASE=false)")
    .action((flags: BackupFlags) => backupCommand(flags));

  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv as string[], { from: "user" });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version requests end here with code 0; usage errors were printed by commander.
      return error.exitCode === 0 ? 0 : 2;
    }
    const message = redact(errorMessage(error));
    process.stderr.write(`edms-backup: ${message}\n`);
    if (error instanceof ConfigError || error instanceof RunnerError) return error.exitCode;
    return 1;
  }
}
