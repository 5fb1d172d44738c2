// Runs a short-lived command to completion and reports what happened, without throwing on a
// non-zero exit: callers (cluster start/stop) decide what a failure means and need the output
// to explain it.
import { spawn } from "node:child_process";

export interface RunResult {
  /** Exit code, or null when the process was killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Kill the command (SIGKILL) after this many milliseconds. */
  timeoutMs?: number;
  /** Run it as this user (the test runs as root; the pod does not). */
  as?: { uid: number; gid: number };
}

/** Error raised when the executable itself does not exist (spawn ENOENT). */
export class CommandNotFoundError extends Error {
  constructor(readonly command: string) {
    super(`command not found: ${command}`);
    this.name = "CommandNotFoundError";
  }
}

export function run(command: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      ...opts.as,
      // stdin closed: none of these commands may prompt (a password prompt would hang a test run).
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
    child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    const timer = opts.timeoutMs === undefined ? undefined : setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs);
    child.on("error", (err: NodeJS.ErrnoException) => {
      if (timer) clearTimeout(timer);
      reject(err.code === "ENOENT" ? new CommandNotFoundError(command) : err);
    });
    child.on("close", (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** A bash script (`set -euo pipefail`) that must succeed; its stdout. For standard-tool pipelines in tests. */
export async function sh(script: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
  const r = await run("bash", ["-c", `set -euo pipefail; ${script}`], { env: { ...process.env, ...env } });
  if (r.code !== 0) throw new Error(`${script} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}
