// A local S3 (moto_server) for tests and the demo: process management only, no AWS SDK here.
// No vitest imports (the demo script reuses it).
import { spawn } from "node:child_process";

export interface Moto {
  /** e.g. "http://127.0.0.1:40123"; use path-style addressing (forcePathStyle: true). */
  endpoint: string;
  pid: number;
  /** SIGTERM, then SIGKILL after 3 s. Safe to call twice. */
  stop(): Promise<void>;
}

// Debian 12 has no python3-moto package (checked with apt-cache policy); it does package pipx,
// and PyPI may be unreachable from CI machines, so name both routes.
const INSTALL_HINT =
  'Install moto\'s server: pip install "moto[server]" (from PyPI; Debian 12 has no python3-moto ' +
  'package: use apt-get install -y pipx && pipx install "moto[server]", or a venv). ' +
  "moto_server must be on PATH.";
const READY_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 3_000;

/** Dummy credentials: moto accepts any, but the SDK refuses to sign without some. */
export function awsTestEnv(): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    AWS_REGION: "us-east-1",
  };
}

export async function startMoto(): Promise<Moto> {
  const child = spawn("moto_server", ["-H", "127.0.0.1", "-p", "0"], {
    stdio: ["ignore", "pipe", "pipe"],
    // Unbuffered, so the "Running on" line arrives at once rather than when a buffer fills.
    env: { ...process.env, PYTHONUNBUFFERED: "1" },
  });
  // moto logs every request; keep draining both pipes for the server's whole life or it blocks
  // once a pipe buffer fills. Only a tail is kept, for error messages.
  let output = "";
  const collect = (s: string): void => {
    output = (output + s).slice(-8_000);
  };
  child.stdout.setEncoding("utf8").on("data", collect);
  child.stderr.setEncoding("utf8").on("data", collect);

  let exited = child.exitCode !== null;
  const exitedPromise = new Promise<void>((resolve) => {
    const done = (): void => {
      exited = true;
      resolve();
    };
    child.once("exit", done);
    // A spawn failure (e.g. ENOENT) emits "error" and never "exit": there is no process to wait for.
    child.once("error", () => {
      if (child.pid === undefined) done();
    });
  });
  const kill = (): void => {
    if (!exited) child.kill("SIGKILL");
  };
  // Safety net: never leave a moto_server behind if the process exits without stop().
  process.once("exit", kill);

  const stop = async (): Promise<void> => {
    process.removeListener("exit", kill);
    if (exited) return;
    child.kill("SIGTERM");
    const timer = setTimeout(kill, STOP_GRACE_MS);
    await exitedPromise;
    clearTimeout(timer);
  };

  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`moto_server did not report its port within ${READY_TIMEOUT_MS} ms:\n${output}`)),
        READY_TIMEOUT_MS,
      );
      const onData = (): void => {
        const m = /Running on http:\/\/127\.0\.0\.1:(\d+)/.exec(output);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      };
      child.stdout.on("data", onData);
      child.stderr.on("data", onData);
      child.once("error", (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(err.code === "ENOENT" ? new Error(`moto_server not found on PATH. ${INSTALL_HINT}`) : err);
      });
      child.once("exit", (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`moto_server exited early (${code ?? signal}):\n${output}`));
      });
    });
    const endpoint = `http://127.0.0.1:${port}`;
    await waitForHttp(endpoint, READY_TIMEOUT_MS);
    if (child.pid === undefined) throw new Error("moto_server has no pid");
    return { endpoint, pid: child.pid, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** "Running on" is printed just before the socket serves; poll until a request really succeeds. */
async function waitForHttp(endpoint: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${endpoint}/`, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (res.ok) return;
      last = new Error(`HTTP ${res.status}`);
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`moto_server at ${endpoint} did not answer within ${timeoutMs} ms: ${String(last)}`);
}
