/**
 * A "reported run" (backup, drill): a run whose start and end are told to the outside world. The
 * notification targets and a provisional logger are set up from the raw environment before the
 * settings are validated, so a run that fails on bad configuration (a CronJob nobody looks at)
 * still pings /fail and posts its error; the failure is redacted with the database's secrets as
 * soon as they are known.
 */
import type { RunnerEnv } from "../contract.js";
import { mergeEnv, restoreSecrets, type LoadOptions } from "../settings/config.js";
import { errorMessage } from "../errors.js";
import { createLogger, logCauses, type Logger } from "../output/logger.js";
import { RunReporter, notifyTargetsFromEnv, type NotifyTargets, type ReportKind } from "../notify/run-reporter.js";
import type { LiveArea } from "../output/progress.js";
import { redact } from "../output/redact.js";
import { settingsLogger } from "./shared.js";

export interface ReportedSettings {
  logFormat: "json" | "pretty";
  logLevel: string;
  ignored: string[];
  database?: { secrets: readonly string[] } | null;
  /** The age identity of restores and drills: as secret as the password. */
  identity?: { secret: string; warning?: string };
}

export interface ReportedRunSpec<S extends ReportedSettings, R, P> {
  overrides: RunnerEnv;
  kind: ReportKind<P>;
  /** Where the log lines go: stdout, or stderr when stdout carries a report (--json). */
  logTo: NodeJS.WriteStream;
  /** The terminal's live progress area; log lines are printed above it. */
  area?: LiveArea;
  /** Validates the settings; `isTty` says whether the log goes to a terminal. */
  settings(options: LoadOptions): S;
  run(settings: S, log: Logger): Promise<R>;
  succeeded(result: R, targets: NotifyTargets): P;
  /** The payload of a failed run; `error` is the redacted one-line message. */
  failed(error: string, targets: NotifyTargets, raw: RunnerEnv): P;
}

export async function reportedRun<S extends ReportedSettings, R, P>(spec: ReportedRunSpec<S, R, P>): Promise<R> {
  const raw = mergeEnv(process.env, spec.overrides);
  const targets = notifyTargetsFromEnv(raw);
  const reporter = new RunReporter(targets, spec.kind);
  const isTty = Boolean(spec.logTo.isTTY);
  // The run's warnings, for the run summary (each already redacted by the logger).
  const warnings: string[] = [];
  const onWarn = (message: string) => warnings.push(message);
  const logger = (format: "json" | "pretty", level: string) =>
    createLogger({ format, level, destination: spec.logTo, area: spec.area, onWarn });
  // The same choice the settings make (config.ts), from the raw value: pretty on a terminal.
  const provisional = raw.LOG_FORMAT === "json" || raw.LOG_FORMAT === "pretty" ? raw.LOG_FORMAT : undefined;
  let log = logger(provisional ?? (isTty ? "pretty" : "json"), "info");
  reporter.start(log);

  let secrets: readonly string[] = [];
  let result: R;
  try {
    const settings = spec.settings({ processEnv: process.env, overrides: spec.overrides, isTty });
    secrets = restoreSecrets(settings);
    log = settingsLogger(settings, { secrets, destination: spec.logTo, area: spec.area, onWarn });
    result = await spec.run(settings, log);
  } catch (error) {
    const message = redact(errorMessage(error), secrets);
    // The same redacted message ends the process (cli.ts prints it, and knows no database secrets).
    if (error instanceof Error) error.message = message;
    logCauses(log, error);
    await reporter.finish(spec.failed(message, targets, raw), log, { warnings, secrets });
    throw error;
  }
  await reporter.finish(spec.succeeded(result, targets), log, { warnings, secrets });
  return result;
}
