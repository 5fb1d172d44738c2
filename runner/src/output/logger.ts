/**
 * Structured logs: one JSON line per event (pino), with a human view on a terminal. Every message
 * and string field passes through `redact`, so a password echoed back by a library never leaves
 * the process. With a live progress area on the same terminal, every line is printed above it.
 */
import pino, { type DestinationStream, type Logger } from "pino";
import { prettyFactory } from "pino-pretty";
import { causeChain } from "../errors.js";
import { outputWidth, wrapLine } from "./fit-width.js";
import { formatBytes, formatDuration, formatRate, printable } from "./format.js";
import type { LiveArea } from "./progress.js";
import { redact } from "./redact.js";

export type { Logger };

export interface LoggerOptions {
  format: "json" | "pretty";
  level: string;
  secrets?: readonly string[];
  /** Where lines go; stdout by default (tests pass a stream). */
  destination?: NodeJS.WritableStream;
  /** The live progress area of the terminal the lines go to; they are printed above it. */
  area?: LiveArea;
  /** Colours in the pretty view; default: on a terminal, unless NO_COLOR is set (no-color.org). */
  color?: boolean;
  /**
   * Told each warning line's message, redacted: the run summary lists them (an error ends the run
   * and is reported as the run's error).
   */
  onWarn?: (message: string) => void;
}

const WARN_LEVEL = 40;

const asNumber = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);

/** The part of a nested { name|dir, bytes, ... } a person reads: "live 1.0 MiB". */
function partSummary(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (!v || typeof v !== "object") return undefined;
  const part = v as Record<string, unknown>;
  const where = typeof part.name === "string" ? part.name : typeof part.dir === "string" ? part.dir : undefined;
  const bytes = asNumber(part.bytes);
  return [where, bytes === undefined ? undefined : formatBytes(bytes)].filter(Boolean).join(" ") || undefined;
}

/**
 * The fields of a log event that a person needs, formatted as `list` prints them; the rest
 * (ids already in the message, versions, origins) is for `--log-format json`.
 */
export function readableFields(log: Record<string, unknown>): string[] {
  const out: string[] = [];
  const bytes = asNumber(log.bytes);
  const total = asNumber(log.total);
  const add = (text: string | undefined) => text && out.push(text);
  if (typeof log.stage === "string") add(`stage ${log.stage}`);
  if (typeof log.step === "string") add(log.step);
  if (typeof log.destination === "string") add(`to ${log.destination}`);
  add(partSummary(log.database) && `database ${partSummary(log.database)}`);
  add(partSummary(log.media) && `media ${partSummary(log.media)}`);
  if (typeof log.mediaDir === "string") add(`media ${log.mediaDir}`);
  if (asNumber(log.databaseBytes) !== undefined) add(`database ${formatBytes(log.databaseBytes as number)}`);
  if (asNumber(log.mediaBytes) !== undefined) add(`media ${formatBytes(log.mediaBytes as number)}`);
  if (asNumber(log.mediaFiles) !== undefined) add(`${log.mediaFiles as number} files`);
  if (asNumber(log.tables) !== undefined) add(`${log.tables as number} tables`);
  if (asNumber(log.estimateBytes) !== undefined) add(`about ${formatBytes(log.estimateBytes as number)}`);
  if (bytes !== undefined) add(total ? `${formatBytes(bytes)} of ${formatBytes(total)}` : formatBytes(bytes));
  if (asNumber(log.seconds) !== undefined) add(formatDuration(log.seconds as number));
  if (asNumber(log.rate) !== undefined) add(formatRate(log.rate as number));
  if (typeof log.error === "string") add(`error: ${log.error}`);
  if (typeof log.problem === "string") add(log.problem);
  // The missing media files a backup found (the first ten, as the warning carries them).
  if (Array.isArray(log.missingPaths) && log.missingPaths.length) {
    const more = (asNumber(log.missing) ?? 0) - log.missingPaths.length;
    add(`missing: ${log.missingPaths.map(String).join(", ")}${more > 0 ? ` and ${more} more` : ""}`);
  }
  if (Array.isArray(log.causes)) for (const cause of log.causes) add(`caused by ${String(cause)}`);
  return out;
}

/** The human view: time, level, message and the readable fields; never the JSON object. */
function prettyLine(color: boolean): (line: string) => string {
  return prettyFactory({
    colorize: color,
    singleLine: true,
    hideObject: true,
    translateTime: "HH:MM:ss",
    messageFormat: (log, messageKey) => {
      const fields = readableFields(log);
      return printable(`${String(log[messageKey] ?? "")}${fields.length ? ` (${fields.join(", ")})` : ""}`);
    },
  });
}

function noColorRequested(env: NodeJS.ProcessEnv): boolean {
  return env.NO_COLOR !== undefined && env.NO_COLOR !== "";
}

function isTty(stream: NodeJS.WritableStream): boolean {
  return (stream as Partial<NodeJS.WriteStream>).isTTY === true;
}

function destinationFor(options: LoggerOptions): DestinationStream {
  const out = options.destination ?? process.stdout;
  const { area } = options;
  const onScreen = area && isTty(out) ? area : undefined;
  if (options.format === "json" && !onScreen) {
    // Synchronous writes to the standard streams, so nothing is lost when the process exits.
    if (out === process.stdout || out === process.stderr)
      return pino.destination({ dest: out === process.stderr ? 2 : 1, sync: true });
    return out as DestinationStream;
  }
  const view =
    options.format === "pretty"
      ? prettyLine(options.color ?? (isTty(out) && !noColorRequested(process.env)))
      : (line: string) => line;
  // A readable line on a terminal is broken between words (fit-width.ts), never mid-word by the
  // terminal; JSON lines and lines into pipes and files stay whole.
  const width = options.format === "pretty" && isTty(out) ? outputWidth(out) : undefined;
  return {
    write(line: string) {
      const text = width ? wrapLine(view(line).replace(/\n$/, ""), width) : view(line);
      if (onScreen) onScreen.printAbove(text, out);
      else out.write(text.endsWith("\n") ? text : `${text}\n`);
    },
  };
}

export function createLogger(options: LoggerOptions): Logger {
  const secrets = options.secrets ?? [];
  const clean = (value: unknown): unknown =>
    typeof value === "string" ? redact(value, secrets) : Array.isArray(value) ? value.map(clean) : value;
  return pino(
    {
      level: options.level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (level) => ({ level }) },
      hooks: {
        logMethod(args, method, level) {
          const cleaned = args.map((arg) =>
            arg && typeof arg === "object" && !(arg instanceof Error)
              ? Object.fromEntries(Object.entries(arg).map(([k, v]) => [k, clean(v)]))
              : clean(arg),
          ) as Parameters<typeof method>;
          if (options.onWarn && level === WARN_LEVEL) {
            const message = cleaned.find((arg): arg is string => typeof arg === "string");
            if (message) options.onWarn(message);
          }
          method.apply(this, cleaned);
        },
      },
    },
    destinationFor(options),
  );
}

/**
 * At debug level, what caused a failure (its `cause` chain, redacted like every field); nothing
 * at other levels, and nothing for an error without a cause.
 */
export function logCauses(log: Logger, error: unknown): void {
  const causes = causeChain(error);
  if (causes.length) log.debug({ causes }, "what the failure came from");
}

/** Bytes per second as a rounded number, for log fields. */
export function rate(bytes: number, ms: number): number {
  return ms > 0 ? Math.round((bytes / ms) * 1000) : 0;
}
