/** What every command's wiring shares: destination flags, the store, the logger, signals. */
import { Option, type Command } from "commander";
import type { RunnerEnv } from "../contract.js";
import { TIERS } from "../contract.js";
import { loadCommonSettings, loadRestoreSettings, type CommonSettings } from "../settings/config.js";
import { outputWidth, wrapText } from "../output/fit-width.js";
import { printable } from "../output/format.js";
import { createLogger, type Logger, type LoggerOptions } from "../output/logger.js";
import { openStore } from "../store/open-store.js";
import type { CompleteBackupSet } from "../catalog/catalog.js";
import { openIdentity, type IdentitySettings, type OpenIdentity } from "../encryption/identity.js";
import { unlockSet } from "../encryption/names.js";
import type { ObjectStore } from "../store/object-store.js";

export interface DestinationFlags {
  destination?: string;
  s3Endpoint?: string;
  logFormat?: string;
}

/** What restore and undo-restore replace, and how: the same flags for both. */
export interface ReplaceFlags extends DestinationFlags {
  databaseOnly?: boolean;
  mediaOnly?: boolean;
  targetDb?: string;
  mediaDir?: string;
  databaseUrl?: string;
  yes?: boolean;
  terminateConnections?: boolean;
}

export function addDestinationOptions(command: Command): Command {
  return command
    .option("--destination <url>", "s3://bucket/prefix or file:///path (env BACKUP_DESTINATION)")
    .option("--s3-endpoint <url>", "S3-compatible endpoint (env S3_ENDPOINT)")
    .addOption(new Option("--log-format <format>", "json or pretty (env LOG_FORMAT)").choices(["json", "pretty"]));
}

export const tierOption = (what: string) => new Option("--tier <tier>", what).choices(TIERS);

export function destinationOverrides(flags: DestinationFlags): RunnerEnv {
  return { BACKUP_DESTINATION: flags.destination, S3_ENDPOINT: flags.s3Endpoint, LOG_FORMAT: flags.logFormat };
}

export interface CommandContext {
  settings: CommonSettings;
  store: ObjectStore;
  log: Logger;
}

/**
 * The run's logger, from validated settings. Environment variables that do not apply to this run
 * (an S3_ENDPOINT beside a file:// destination) were ignored; that is said at debug level.
 */
export function settingsLogger(
  settings: {
    logFormat: "json" | "pretty";
    logLevel: string;
    ignored: readonly string[];
    identity?: { warning?: string };
  },
  options: Pick<LoggerOptions, "secrets" | "destination" | "area" | "onWarn"> = {},
): Logger {
  const log = createLogger({ format: settings.logFormat, level: settings.logLevel, ...options });
  if (settings.ignored.length)
    log.debug({ ignored: settings.ignored }, "environment variables that do not apply to this run were ignored");
  if (settings.identity?.warning) log.warn({ stage: "identity" }, settings.identity.warning);
  return log;
}

/** Settings, store and logger for a command that reads or manages a destination. */
export function openContext(
  flags: DestinationFlags,
  overrides: RunnerEnv = {},
  options: { secrets?: readonly string[]; logToStderr?: boolean } = {},
): CommandContext {
  const settings = loadCommonSettings({
    processEnv: process.env,
    overrides: { ...destinationOverrides(flags), ...overrides },
    isTty: Boolean(process.stdout.isTTY),
  });
  // Commands whose stdout is a report (--json, tables) log on stderr, so the report stays parseable.
  const log = settingsLogger(settings, {
    secrets: options.secrets,
    destination: options.logToStderr ? process.stderr : undefined,
  });
  return { settings, store: openStore(settings.destination, settings.s3Endpoint), log };
}

/**
 * Runs `work` with the set unlocked: for an encrypted set, the identity is opened, checked
 * against the set's recipients and its names member decrypted (exit 2 without a fitting
 * identity, before anything is touched); the identity's private copy is removed afterwards.
 */
export async function withUnlockedSet<T>(
  store: ObjectStore,
  set: CompleteBackupSet,
  identity: IdentitySettings | undefined,
  work: (set: CompleteBackupSet, identity: OpenIdentity | undefined) => Promise<T>,
  options: { required?: boolean } = {},
): Promise<T> {
  const needed = set.manifest.encryption !== undefined && (identity !== undefined || options.required !== false);
  const open = needed && identity ? await openIdentity(identity) : undefined;
  try {
    return await work(needed ? await unlockSet(store, set, open) : set, open);
  } finally {
    await open?.close();
  }
}

/** Stops the run on SIGTERM (Kubernetes) or SIGINT (Ctrl-C); the signal name is the reason. */
export function signalController(): AbortController {
  const controller = new AbortController();
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.on(signal, () => {
      if (controller.signal.aborted) process.exit(signal === "SIGINT" ? 130 : 143); // second signal: give up now
      controller.abort(signal);
    });
  }
  return controller;
}

/**
 * Writes a command's result for people or (with --json) for programs, on stdout. Control
 * characters (from a folder or file name) are written as \u escapes, which JSON reads back as
 * the same characters.
 */
export function printOut(text: string): void {
  const safe = printable(text);
  process.stdout.write(safe.endsWith("\n") ? safe : `${safe}\n`);
}

/** undo-restore's and cleanup's settings: the same connection and target rules as restore (flags, DATABASE_URL/PG*, MEDIA_DIR). */
export function keptCopySettings(
  flags: DestinationFlags & { targetDb?: string; mediaDir?: string; databaseUrl?: string },
  scope: { databaseOnly?: boolean; mediaOnly?: boolean },
) {
  const overrides: RunnerEnv = {
    ...destinationOverrides(flags),
    MEDIA_DIR: flags.mediaDir,
    DATABASE_URL: flags.databaseUrl,
  };
  const settings = loadRestoreSettings(
    { processEnv: process.env, overrides, isTty: Boolean(process.stdout.isTTY) },
    { ...scope, targetDb: flags.targetDb, needsMediaTarget: true },
  );
  const log = createLogger({
    format: settings.logFormat,
    level: settings.logLevel,
    secrets: settings.database?.secrets,
  });
  return { settings, log, store: openStore(settings.destination!, settings.s3Endpoint) };
}

/**
 * Whether a command ends with its readable summary (the drill's checks, what a restore or backup
 * did): on a terminal, and wherever the readable log format was asked for (`--log-format pretty`
 * or LOG_FORMAT=pretty into a pipe or a file), never in a JSON-only stream.
 */
export function wantsReadableSummary(flagFormat: string | undefined): boolean {
  const format = flagFormat ?? process.env.LOG_FORMAT;
  return Boolean(process.stdout.isTTY) || format === "pretty";
}

/**
 * printOut for text meant for people (a summary, a drill's checks): each line broken between words
 * to the width (output/fit-width.ts) on a terminal or with COLUMNS set, never mid-word.
 */
export function printReadable(text: string): void {
  const width = outputWidth();
  printOut(width ? wrapText(text, width) : text);
}
