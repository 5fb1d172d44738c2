/**
 * The runner's own last words: the final error, a configuration error, a usage error. With the
 * JSON log format they are one JSON line like every log line (`kubectl logs job/... | jq` must
 * read a failed run to its end); with the readable one, one plain line.
 *
 * The format is decided here from argv and the environment, before any settings are validated,
 * because the settings themselves may be what is wrong: the same rule as config.ts (flag, then
 * LOG_FORMAT, then JSON off a terminal).
 */
import { printable } from "./format.js";

export type LogFormat = "json" | "pretty";

const FORMATS: readonly string[] = ["json", "pretty"];

/** `--log-format X` or `--log-format=X` (the last one wins, as commander's), else LOG_FORMAT, else by terminal. */
export function finalLogFormat(argv: readonly string[], env: NodeJS.ProcessEnv, isTty: boolean): LogFormat {
  let flag: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") break;
    if (arg === "--log-format") flag = argv[i + 1];
    else if (arg.startsWith("--log-format=")) flag = arg.slice("--log-format=".length);
  }
  for (const candidate of [flag, env.LOG_FORMAT])
    if (candidate !== undefined && FORMATS.includes(candidate)) return candidate as LogFormat;
  return isTty ? "pretty" : "json";
}

export interface FinalLine {
  /** The message, already redacted. */
  message: string;
  exitCode: number;
  /** A configuration error's problems, one per field. */
  problems?: readonly string[];
}

/** The line itself, newline included. */
export function finalLine(format: LogFormat, line: FinalLine, now: Date = new Date()): string {
  if (format === "pretty") return `edms-backup: ${printable(line.message)}\n`;
  // The fields every pino line of the runner has (level, time, msg), plus what a script needs.
  return `${JSON.stringify({
    level: "error",
    time: now.toISOString(),
    stage: "exit",
    exitCode: line.exitCode,
    ...(line.problems ? { problems: line.problems } : {}),
    msg: `edms-backup: ${line.message}`,
  })}\n`;
}
