/**
 * Structured logs: one JSON line per event (pino), with a human view on a terminal. Every message
 * and string field passes through `redact`, so a password echoed back by a library never leaves
 * the process.
 */
import pino, { type Logger } from "pino";
import pretty from "pino-pretty";
import { redact } from "./redact.js";

export type { Logger };

export interface LoggerOptions {
  format: "json" | "pretty";
  level: string;
  secrets?: readonly string[];
  /** Where lines go; stdout by default (tests pass a stream). */
  destination?: NodeJS.WritableStream;
}

export function createLogger(options: LoggerOptions): Logger {
  const secrets = options.secrets ?? [];
  const clean = (value: unknown): unknown => (typeof value === "string" ? redact(value, secrets) : value);
  const stream =
    options.format === "pretty"
      ? pretty({
          colorize: true,
          sync: true,
          singleLine: true,
          ignore: "pid,hostname",
          translateTime: "HH:MM:ss",
          destination: options.destination ?? 1,
        })
      : options.destination === process.stderr
        ? pino.destination({ dest: 2, sync: true })
        : (options.destination ?? pino.destination({ dest: 1, sync: true }));
  return pino(
    {
      level: options.level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (level) => ({ level }) },
      hooks: {
        logMethod(args, method) {
          const cleaned = args.map((arg) =>
            arg && typeof arg === "object" && !(arg instanceof Error)
              ? Object.fromEntries(Object.entries(arg).map(([k, v]) => [k, clean(v)]))
              : clean(arg),
          ) as Parameters<typeof method>;
          method.apply(this, cleaned);
        },
      },
    },
    stream,
  );
}

/** Bytes per second as a rounded number, for log fields. */
export function rate(bytes: number, ms: number): number {
  return ms > 0 ? Math.round((bytes / ms) * 1000) : 0;
}
