/**
 * A child process's stdout as a stream that can only end cleanly when the child exited 0.
 *
 * Piping a child's stdout straight into an upload is a trap: when the child dies (killed, OOM,
 * its server connection dropped), its stdout simply ends and the upload completes a truncated
 * object. Here the stream's end is held back until the exit status is known, and the stream
 * errors instead when the child failed, so every consumer (upload, hash) fails with it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { Transform, type Readable } from "node:stream";
import { redact } from "../redact.js";

export interface ChildSource {
  /** stdout, gated on the exit status. */
  readonly stream: Readable;
  /** Resolves when the child exited 0; rejects with a message naming the command otherwise. */
  readonly exited: Promise<void>;
  /** Stops the child (SIGTERM, then SIGKILL after a grace period). */
  stop(): void;
  readonly pid: number | undefined;
}

export interface ChildSourceOptions {
  /** What the child does, for messages: "pg_dump", "tar". */
  label: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Each stderr line, e.g. tar's verbose listing. */
  onStderrLine?: (line: string) => void;
  /** Strings that must never appear in an error message. */
  secrets?: readonly string[];
  /** Exit codes that count as success besides 0. */
  okExitCodes?: readonly number[];
}

const STDERR_TAIL_LINES = 8;
const KILL_GRACE_MS = 5_000;

export function spawnChildSource(command: string, args: readonly string[], options: ChildSourceOptions): ChildSource {
  const child: ChildProcess = spawn(command, args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: options.env ?? process.env,
    cwd: options.cwd,
  });
  const tail: string[] = [];
  let stopped = false;

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
      if (code === 0 || (code !== null && options.okExitCodes?.includes(code))) return resolve();
      const why = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      const detail = tail.length ? `: ${redact(tail.join(" | "), options.secrets)}` : "";
      reject(new Error(`${options.label} ${why}${stopped ? " (stopped by the runner)" : ""}${detail}`));
    });
  });
  // A rejection is reported through the stream and the caller's await; never unhandled.
  exited.catch(() => undefined);

  let pending = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (chunk: string) => {
    pending += chunk;
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) {
      options.onStderrLine?.(line);
      if (!options.onStderrLine || /^\S+: /.test(line)) {
        tail.push(line);
        if (tail.length > STDERR_TAIL_LINES) tail.shift();
      }
    }
  });

  const gate = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      callback(null, chunk);
    },
    flush(callback) {
      exited.then(() => callback(), (error: Error) => callback(error));
    },
  });
  child.stdout?.pipe(gate);
  // Fail fast: a child that dies mid-stream fails the stream now, not when its stdout drains.
  exited.catch((error: Error) => gate.destroy(error));

  return {
    stream: gate,
    exited,
    pid: child.pid,
    stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      stopped = true;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), KILL_GRACE_MS);
      timer.unref();
    },
  };
}
