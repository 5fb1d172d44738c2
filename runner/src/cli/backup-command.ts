import { Option, type Command } from "commander";
import { COMPRESSIONS, MEDIA_FORMATS, REHASH_TIERS, TIERS, TRIGGERS, type RunnerEnv } from "../contract.js";
import { loadBackupSettings } from "../settings/config.js";
import { formatBytes, formatDuration } from "../output/format.js";
import type { Manifest } from "../catalog/manifest.js";
import { failureOutcome, successOutcome } from "../notify/outcome.js";
import { backupReport } from "../notify/run-reporter.js";
import { openLiveArea } from "../output/progress.js";
import { openStore } from "../store/open-store.js";
import { runBackup } from "../commands/backup.js";
import { reportedRun } from "./reported-run.js";
import {
  addDestinationOptions,
  destinationOverrides,
  printReadable,
  wantsReadableSummary,
  signalController,
  type DestinationFlags,
} from "./shared.js";

interface BackupFlags extends DestinationFlags {
  tier?: string;
  trigger?: string;
  mediaDir?: string;
  databaseUrl?: string;
  appVersion?: string;
  compression?: string;
  compressionLevel?: string;
  mediaReferences?: string;
  media: boolean;
  database: boolean;
  encryptTo?: string;
  allowPlaintext?: boolean;
  mediaFormat?: string;
  rehash?: boolean;
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
    MEDIA_REFERENCES: flags.mediaReferences,
    ENCRYPTION_RECIPIENTS: flags.encryptTo,
    ALLOW_PLAINTEXT: flags.allowPlaintext ? "true" : undefined,
    MEDIA_FORMAT: flags.mediaFormat,
    ...(flags.media ? {} : { BACKUP_MEDIA: "false" }),
    ...(flags.database ? {} : { BACKUP_DATABASE: "false" }),
  };
  const started = new Date();
  let backupId: string | undefined;
  let destination: string | undefined;
  const area = openLiveArea(process.stderr);
  const manifest = await reportedRun({
    overrides,
    kind: backupReport,
    logTo: process.stdout,
    area,
    settings: loadBackupSettings,
    run: (settings, log) => {
      const store = openStore(settings.destination, settings.s3Endpoint);
      destination = store.display;
      // The id is known before anything can fail, so a failure report says which run failed.
      return runBackup(settings, {
        store,
        log,
        signal: signalController().signal,
        onBackupId: (id) => (backupId = id),
        area,
        rehash: flags.rehash,
      });
    },
    succeeded: (result, { app }) => successOutcome(app, result, destination),
    failed: (error, { app }, raw) =>
      failureOutcome({ app, started, finished: new Date(), error, tier: raw.BACKUP_TIER, backupId, destination }),
  });
  if (wantsReadableSummary(flags.logFormat)) printReadable(backupSummary(manifest, destination));
}

/** What a person at a terminal reads last: what was stored where, how big, how long. */
export function backupSummary(m: Manifest, destination: string | undefined): string {
  const seconds = (Date.parse(m.finishedAt) - Date.parse(m.startedAt)) / 1000;
  return [
    `backed up ${m.tier}/${m.backupId} in ${formatDuration(seconds)}${destination ? ` to ${destination}` : ""}`,
    m.database &&
      `  database ${m.database.name}: ${m.database.tableCount} tables, ${formatBytes(m.database.bytes)} of dump${m.encryption ? " (age-encrypted)" : ""}`,
    m.media &&
      (m.media.store
        ? `  media: ${m.media.files} files in ${m.media.store.objects} content objects (${m.media.store.uploadedObjects} new, ${formatBytes(m.media.store.uploadedBytes)} uploaded; ${m.media.store.reusedObjects} already stored), ${formatBytes(m.media.bytes)} of index`
        : `  media: ${m.media.files} files, ${formatBytes(m.media.bytes)} of archive`),
  ]
    .filter(Boolean)
    .join("\n");
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
    .addOption(
      new Option(
        "--media-format <format>",
        "store (content store, the default) or tar (one archive) (env MEDIA_FORMAT)",
      ).choices(MEDIA_FORMATS),
    )
    .addOption(new Option("--compression <kind>", "media compression (env MEDIA_COMPRESSION)").choices(COMPRESSIONS))
    .option("--compression-level <n>", "media compression level (env MEDIA_COMPRESSION_LEVEL)")
    .option(
      "--media-references <columns>",
      "columns holding media paths, e.g. documents_document.file,public.pages.image (env MEDIA_REFERENCES)",
    )
    .option(
      "--encrypt-to <recipients>",
      "encrypt every object with age to these X25519 recipients, comma-separated (env ENCRYPTION_RECIPIENTS)",
    )
    .option(
      "--rehash",
      `store format: read every media file, even those the previous set's stat cache shows unchanged (the ${REHASH_TIERS.join(", ")} tier always does)`,
    )
    .option(
      "--allow-plaintext",
      "store this backup unencrypted even though the destination's newest set is encrypted (env ALLOW_PLAINTEXT)",
    )
    .option("--no-media", "skip the media folder (env BACKUP_MEDIA=false)")
    .option("--no-database", "skip the database (env BACKUP_DATABASE=false)")
    .action((flags: BackupFlags) => backupAction(flags));
}
