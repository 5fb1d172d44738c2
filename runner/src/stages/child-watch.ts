/**
 * Exit-status bookkeeping shared by child processes that feed a stream (pg_dump, tar -c) and
 * those that consume one (pg_restore, tar -x): a promise that resolves only on exit 0, a tail of
 * stderr for the error message (secrets redacted), and a stop that escalates to SIGKILL.
 */
import type { ChildProcess } from "node:child_process";
import { redact } from "../output/redact.js";

export interface ChildOptions {
  /** What the child does, for messages: "pg_dump", "tar". */
  label: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Each line the child writes on the given stream, e.g. tar's verbose listing. */
  onListingLine?: (line: string) => void;
  /** Strings that must never appear in an error message. */
  secrets?: readonly string[];
  /** Each warning the child prints ("pg_dump: warning: ..."), without the prefix, redacted. */
  onWarning?: (warning: string) => void;
}

export interface WatchedChild {
  /** Resolves when the child exited 0; rejects with a message naming the command otherwise. */
  readonly exited: Promise<void>;
  /** Stops the child (SIGTERM, then SIGKILL after a grace period). */
  stop(): void;
  readonly pid: number | undefined;
}

/**
 * Variables a child process never inherits: the store key names objects in the runner itself; the age identity is for the runner's own age
 * process (which gets it as a file), not for pg_dump, pg_restore or tar.
 */
export const NEVER_INHERITED = ["AGE_IDENTITY", "MEDIA_STORE_KEY"] as const;

/** The environment for a child: `env` (default: the runner's own) without NEVER_INHERITED. */
export function childProcessEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const out = { ...env };
  for (const name of NEVER_INHERITED) delete out[name];
  return out;
}

const TAIL_LINES = 8;

/**
 * pg_restore quotes the statement that failed ("Command was: CREATE USER MAPPING ... OPTIONS
 * (password '...')", over several lines) and the server echoes it ("LINE 1: ..." and a caret
 * line), and a failed COPY's CONTEXT quotes the row. Statements and rows are the database's
 * contents, secrets included: none of it may reach stderr, the log or a webhook. Returns a
 * filter for one child's stderr lines: each line as it may be kept, or undefined to drop it.
 */
export function statementTextFilter(): (line: string) => string | undefined {
  let inStatement = false;
  return (line) => {
    if (/^Command was: /.test(line)) {
      inStatement = true;
      return "Command was: (statement not shown)";
    }
    // The statement's further lines run until the next diagnostic ("pg_restore: ...").
    if (inStatement && !/^pg_\w+: /.test(line)) return undefined;
    inStatement = false;
    if (/^LINE \d+: /.test(line) || /^\s*\^\s*$/.test(line)) return undefined;
    const copy = /^(CONTEXT: {2}COPY [^,]*, line \d+)/.exec(line);
    if (copy) return `${copy[1]} (row not shown)`;
    return line;
  };
}
const KILL_GRACE_MS = 5_000;

/** Splits a text stream into lines and hands each to `onLine`. */
export function eachLine(stream: NodeJS.ReadableStream | null | undefined, onLine: (line: string) => void): void {
  if (!stream) return;
  let pending = "";
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    pending += chunk;
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) onLine(line);
  });
  stream.on("end", () => pending && onLine(pending));
}

/**
 * Watches `child`. Lines of `listing` (stdout or stderr, whichever carries a verbose listing) go
 * to options.onListingLine; diagnostics ("prog: message") are kept for the error message.
 */
export function watchChild(
  child: ChildProcess,
  command: string,
  options: ChildOptions,
  listing?: NodeJS.ReadableStream | null,
): WatchedChild {
  const tail: string[] = [];
  let stopped = false;
  const shown = statementTextFilter();
  const keep = (raw: string) => {
    const line = shown(raw);
    if (line === undefined || !line.trim()) return;
    const warning = /^[\w.-]+: warning: (.*)$/.exec(line);
    if (warning && options.onWarning) options.onWarning(redact(warning[1]!, options.secrets));
    tail.push(line);
    if (tail.length > TAIL_LINES) tail.shift();
  };
  eachLine(child.stderr, (line) => {
    if (listing === child.stderr && options.onListingLine) {
      options.onListingLine(line);
      if (/^\S+: /.test(line)) keep(line);
    } else keep(line);
  });
  if (listing && listing !== child.stderr) eachLine(listing, (line) => options.onListingLine?.(line));

  const exited = new Promise<void>((resolve, reject) => {
    child.once("error", (error: NodeJS.ErrnoException) => {
      reject(
        new Error(
          error.code === "ENOENT"
            ? `${options.label}: ${command} was not found; install it or point PG_BIN_DIR/PATH at it`
            : `${options.label}: could not start ${command}: ${error.message}`,
        ),
      );
    });
    child.once("close", (code, signal) => {
      if (code === 0) return resolve();
      const why = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      const detail = tail.length ? `: ${redact(tail.join(" | "), options.secrets)}` : "";
      reject(new Error(`${options.label} ${why}${stopped ? " (stopped by the runner)" : ""}${detail}`));
    });
  });
  // Reported through the caller's await; never an unhandled rejection.
  exited.catch(() => undefined);

  return {
    exited,
    pid: child.pid,
    stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      stopped = true;
      child.kill("SIGTERM");
      setTimeout(() => child.kill("SIGKILL"), KILL_GRACE_MS).unref();
    },
  };
}
