// A throwaway Prometheus (Debian's `prometheus`) for a test: a free loopback port, its own data
// folder, a config that scrapes the given targets every second, stopped by its PID. Series are read
// back through its HTTP API, as Grafana reads them.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { freePort } from "./pg-cluster.js";

/** The binary, or an error naming the command that installs it (a test must fail, not skip). */
export function requireTool(tool: "prometheus" | "promtool"): string {
  const found = spawnSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" }).stdout.trim();
  if (!found)
    throw new Error(
      `${tool} is not installed: run \`apt-get install -y prometheus\` (bash scripts/setup.sh installs it)`,
    );
  return found;
}

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface TestPrometheus {
  url: string;
  /** An instant query; throws with Prometheus's own error for a query that does not parse. */
  query(expr: string): Promise<PromSample[]>;
  /** Polls `expr` until `accept` holds for its result (default: any sample), or throws after `timeoutMs`. */
  waitFor(expr: string, accept?: (r: PromSample[]) => boolean, timeoutMs?: number): Promise<PromSample[]>;
  stop(): Promise<void>;
}

export async function startPrometheus(targets: string[], extraConfig = ""): Promise<TestPrometheus> {
  const bin = requireTool("prometheus");
  const dir = await mkdtemp(path.join(tmpdir(), "edms-prometheus-"));
  const config = path.join(dir, "prometheus.yml");
  await writeFile(
    config,
    `global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: edms-backup
    scrape_interval: 1s
    static_configs:
      - targets: ${JSON.stringify(targets)}
${extraConfig}`,
  );
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let log = "";
  const child: ChildProcess = spawn(
    bin,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${path.join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--web.enable-lifecycle",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  child.stdout!.on("data", (d: Buffer) => (log += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (log += d.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));

  const query = async (expr: string): Promise<PromSample[]> => {
    const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await res.json()) as {
      status: string;
      error?: string;
      data?: { resultType: string; result: unknown };
    };
    if (body.status !== "success") throw new Error(`query ${expr} failed: ${body.error ?? res.status}`);
    const result = body.data!.result;
    // A scalar (`time()`) comes back as one value; a vector as samples.
    return body.data!.resultType === "scalar"
      ? [{ metric: {}, value: result as [number, string] }]
      : (result as PromSample[]);
  };
  const stop = async () => {
    if (child.exitCode === null && child.pid) process.kill(child.pid, "SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (child.exitCode === null && child.pid) process.kill(child.pid, "SIGKILL");
    await rm(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prometheus exited (${child.exitCode}):\n${log}`);
    const ready = await fetch(`${url}/-/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus did not become ready within 30 s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }

  return {
    url,
    query,
    async waitFor(expr, accept = (r) => r.length > 0, timeoutMs = 30_000) {
      const until = Date.now() + timeoutMs;
      let last: PromSample[] = [];
      for (;;) {
        last = await query(expr);
        if (accept(last)) return last;
        if (Date.now() > until)
          throw new Error(`${expr}: no acceptable result within ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
        await new Promise((r) => setTimeout(r, 500));
      }
    },
    stop,
  };
}
