import { Option, type Command } from "commander";
import { COMPRESSIONS, TIERS, TRIGGERS, type RunnerEnv } from "../contract.js";
import { loadBackupSettings, mergeEnv } from "../config.js";
import { errorMessage } from "../errors.js";
import { createLogger, type Logger } from "../logger.js";
import type { Manifest } from "../manifest.js";
import { redact } from "../redact.js";
import { openStore } from "../store/open-store.js";
import { runBackup } from "../commands/backup.js";
import { notifyTargetsFromEnv, RunReporter } from "../notify/run-reporter.js";
import { addDestinationOptions, destinationOverrides, signalController, type DestinationFlags } from "./shared.js";

interface BackupFlags extends DestinationFlags {
  tier?: string;
  trigger?: string;
  mediaDir?: string;
  databaseUrl?: string;
  appVersion?: string;
  compression?: string;
  compressionLevel?: string;
  media: boolean;
  database: boolean;
}

async function backupAction(flags: BackupFlags): Promise<void> {
  const overrides: RunnerEnv = {
    ...destinationOverrides(flags),
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
  // Notifications are set up before the settings are validated, so that a run that fails on bad
  // configuration (a CronJob nobody looks at) still pings /fail and posts its error.
  const raw = mergeEnv(process.env, overrides);
  const reporter = new RunReporter(notifyTargetsFromEnv(raw));
  let log: Logger = createLogger({
    format: raw.LOG_FORMAT === "pretty" || (!raw.LOG_FORMAT && process.stdout.isTTY) ? "pretty" : "json",
    level: "info",
  });
  reporter.start(log);

  let secrets: readonly string[] = [];
  let backupId: string | undefined;
  let destination: string | undefined;
  let manifest: Manifest;
  try {
    const settings = loadBackupSettings({ processEnv: process.env, overrides, isTty: Boolean(process.stdout.isTTY) });
    secrets = settings.database?.secrets ?? [];
    log = createLogger({ format: settings.logFormat, level: settings.logLevel, secrets });
    const store = openStore(settings.destination, settings.s3Endpoint);
    destination = store.display;
    // The id is known before anything can fail, so a failure report says which run failed.
    manifest = await runBackup(settings, {
      store,
      log,
      signal: signalController().signal,
      onBackupId: (id) => (backupId = id),
    });
  } catch (error) {
    await reporter.failed(
      { error: redact(errorMessage(error), secrets), tier: raw.BACKUP_TIER, backupId, destination },
      log,
    );
    throw error;
  }
  await reporter.succeeded(manifest, destination, log);
}

export function registerBackupCommand(program: Command): void {
  addDestinationOptions(
    program
      .command("backup")
      .description("back up the database and the media folder as one backup set")
      .addOption(new Option("--tier <tier>", "backup tier (env BACKUP_TIER)").choices(TIERS))
      .addOption(new Option("--trigger <trigger>", "schedule or manual (env BACKUP_TRIGGER)").choices(TRIGGERS)),
  )
    .option("--media-dir <path>", "media folder (env MEDIA_DIR)")
    .option("--database-url <url>", "postgres:// URL (env DATABASE_URL; prefer the env, flags are visible in ps)")
    .option("--app-version <version>", "application version for the manifest (env APP_VERSION)")
    .addOption(new Option("--compression <kind>", "media compression (env MEDIA_COMPRESSION)").choices(COMPRESSIONS))
    .option("--compression-level <n>", "media compression level (env MEDIA_COMPRESSION_LEVEL)")
    .option("--no-media", "skip the media folder (env BACKUP_MEDIA=false)")
    .option("--no-database", "skip the database (env BACKUP_DATABASE=false)")
    .action((flags: BackupFlags) => backupAction(flags));
}
