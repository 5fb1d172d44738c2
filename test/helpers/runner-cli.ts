// Runs the bundled runner the way the image does: plain `node` on a copy of dist/edms-backup.cjs in
// a folder with no node_modules, with only the environment a test gives it (plus PATH/HOME).
import { spawn, type ChildProcess } from "node:child_process";
import { chmod, copyFile, mkdtemp, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

export const BUNDLE = path.resolve(__dirname, "../../dist/edms-backup.cjs");

let isolated: Promise<string> | undefined;

/** The bundle copied into an empty temporary folder (once per test worker). */
export function isolatedBundle(): Promise<string> {
  isolated ??= (async () => {
    await stat(BUNDLE).catch(() => {
      throw new Error(`${BUNDLE} is missing: run \`npm run build\` (npm test does it first)`);
    });
    const dir = await mkdtemp(path.join(tmpdir(), "edms-runner-"));
    // Readable by any uid: some tests run the bundle as a non-root user, as the pod does.
    await chmod(dir, 0o755);
    const target = path.join(dir, "edms-backup.cjs");
    await copyFile(BUNDLE, target);
    await chmod(target, 0o644);
    return target;
  })();
  return isolated;
}

export interface RunnerResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  /**
   * stderr as a person reads it: the runner's final JSON line (`stage: "exit"`, written with
   * LOG_FORMAT=json) is replaced by its message, the text the readable format prints.
   */
  stderr: string;
  /** stderr exactly as written. */
  rawStderr: string;
  /** stdout parsed as JSON log lines (non-JSON lines are skipped). */
  logs: Array<Record<string, unknown>>;
}

export interface RunningRunner {
  child: ChildProcess;
  result: Promise<RunnerResult>;
  /** Resolves with the first log line matching `predicate`; rejects after `timeoutMs`. */
  waitForLog(
    predicate: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
}

function parseLogs(stdout: string): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const line of stdout.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // a partial line at a kill; ignore
    }
  }
  return out;
}

/** The final JSON line's message in place of the line (see RunnerResult.stderr). */
export function readableStderr(stderr: string): string {
  return stderr
    .split("\n")
    .map((line) => {
      if (!line.startsWith("{")) return line;
      try {
        const parsed = JSON.parse(line) as { stage?: unknown; msg?: unknown };
        return parsed.stage === "exit" && typeof parsed.msg === "string" ? parsed.msg : line;
      } catch {
        return line;
      }
    })
    .join("\n");
}

/** Who the runner runs as (the test process must be root to choose). */
export interface RunAs {
  uid: number;
  gid: number;
}

export async function startRunner(
  args: readonly string[],
  env: Record<string, string | undefined>,
  as?: RunAs,
): Promise<RunningRunner> {
  const bundle = await isolatedBundle();
  const child = spawn(process.execPath, [bundle, ...args], {
    ...as,
    cwd: path.dirname(bundle),
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_FORMAT: "json", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  const waiters: Array<{
    predicate: (l: Record<string, unknown>) => boolean;
    resolve: (l: Record<string, unknown>) => void;
  }> = [];
  child.stdout!.setEncoding("utf8").on("data", (s: string) => {
    stdout += s;
    const logs = parseLogs(stdout);
    for (const w of [...waiters]) {
      const hit = logs.find(w.predicate);
      if (hit) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(hit);
      }
    }
  });
  child.stderr!.setEncoding("utf8").on("data", (s: string) => (stderr += s));
  const result = new Promise<RunnerResult>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) =>
      resolve({ code, signal, stdout, stderr: readableStderr(stderr), rawStderr: stderr, logs: parseLogs(stdout) }),
    );
  });
  return {
    child,
    result,
    waitForLog(predicate, timeoutMs = 30_000) {
      const already = parseLogs(stdout).find(predicate);
      if (already) return Promise.resolve(already);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(`no matching log line within ${timeoutMs} ms; stdout so far:\n${stdout}\nstderr:\n${stderr}`),
            ),
          timeoutMs,
        );
        waiters.push({ predicate, resolve: (l) => (clearTimeout(timer), resolve(l)) });
        void result.then(() => {
          clearTimeout(timer);
          reject(new Error(`runner exited before the expected log line; stdout:\n${stdout}\nstderr:\n${stderr}`));
        });
      });
    },
  };
}

export async function runRunner(
  args: readonly string[],
  env: Record<string, string | undefined>,
  as?: RunAs,
): Promise<RunnerResult> {
  return (await startRunner(args, env, as)).result;
}

/** A daily backup a test builds on: it must succeed, or the test stops with the runner's message. */
export async function dailyBackup(env: Record<string, string | undefined>, extraArgs: string[] = []) {
  const result = await runRunner(["backup", "--tier", "daily", ...extraArgs], env);
  if (result.code !== 0) throw new Error(`setup backup failed (exit ${result.code}): ${result.stderr}`);
  return result;
}

/** The result of a run that must have succeeded; otherwise throws with its exit code and output. */
export function ok(step: string, r: RunnerResult): RunnerResult {
  if (r.code !== 0) throw new Error(`${step} exited ${r.code}:\n${r.stderr}\n${r.stdout.slice(-3000)}`);
  return r;
}
