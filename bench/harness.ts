// The bench's measuring harness: its arguments, a case run in a clean scratch folder, cases
// alternated run by run, their medians as table rows.
import { spawn, execFileSync } from "node:child_process";
import { mkdir, readdir, rm, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { PgCluster } from "../test/helpers/pg-cluster.js";
import { SPECS, type ensureMedia, type SizeName } from "./dataset.js";
import { measure, median, type Measurement } from "./measure.js";

export const REPO = resolve(__dirname, "..");
export const RUNNER = join(REPO, "dist", "edms-backup.cjs");
export const MiB = 2 ** 20;
/** pg_restore jobs for the restore rows that read a file (the runner's --jobs and the baseline's). */
export const RESTORE_JOBS = 2;

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
export const flag = (name: string) => process.argv.includes(name);
export const size = (arg("--size") ?? "small") as SizeName;
if (!(size in SPECS)) throw new Error(`--size must be small, large or pgbench20 (got ${size})`);
export const runs = Number(arg("--runs") ?? 3);
export const log = (s: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${s}\n`);

/** What every measured group shares: the work folder, the dataset, the cluster and the environments. */
export interface BenchContext {
  work: string;
  media: Awaited<ReturnType<typeof ensureMedia>>;
  cluster: PgCluster;
  binDir: string;
  baseEnv: NodeJS.ProcessEnv;
  runnerEnv: (destination: string, extra?: NodeJS.ProcessEnv) => NodeJS.ProcessEnv;
  /** MEDIA_COMPRESSION(_LEVEL) and PG_DUMP_COMPRESSION from the bench's own environment, when set. */
  defaultsEnv: NodeJS.ProcessEnv;
  /** The age recipient of the encrypted cases, and the environment that sets it. */
  recipient: string;
  encrypted: NodeJS.ProcessEnv;
  onlyMatrix: boolean;
}

/** A case's output when it writes nothing kept (to /dev/null, or only measures start-up). */
export const noOutput = async () => ({ output: 0, localDestinationPaged: 0 });

/** Bytes a file tree occupies in whole pages (what write_bytes counts for it). */
export async function pagedBytes(path: string): Promise<{ bytes: number; paged: number }> {
  let bytes = 0;
  let paged = 0;
  const info = await stat(path).catch(() => undefined);
  if (!info) return { bytes, paged };
  if (info.isFile()) return { bytes: info.size, paged: Math.ceil(info.size / 4096) * 4096 };
  for (const e of await readdir(path)) {
    const r = await pagedBytes(join(path, e));
    bytes += r.bytes;
    paged += r.paged;
  }
  return { bytes, paged };
}

export function sh(command: string, args: string[], env?: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((res, rej) => {
    const c = spawn(command, args, { env: env ?? process.env, stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    c.stderr.setEncoding("utf8").on("data", (s: string) => (err += s));
    c.once("error", rej);
    c.once("exit", (code) => (code === 0 ? res() : rej(new Error(`${command} exited ${code}: ${err.slice(-2000)}`))));
  });
}

export interface Case {
  name: string;
  /** Shell script run under bash -c, with the case's environment. */
  script: string;
  env: NodeJS.ProcessEnv;
  before?: () => Promise<void>;
  /** Output bytes, and the bytes of it that were legitimately written to local disk (paged). */
  after: () => Promise<{ output: number; localDestinationPaged: number }>;
}

interface RunRecord extends Measurement {
  output: number;
  tempBytes: number;
}

async function runCase(c: Case, scratch: string): Promise<RunRecord> {
  await rm(scratch, { recursive: true, force: true });
  await mkdir(scratch, { recursive: true });
  await c.before?.();
  execFileSync("sync");
  const m = await measure("bash", ["-c", c.script], { env: c.env, scratch });
  if (m.exitCode !== 0) throw new Error(`${c.name} failed (exit ${m.exitCode}):\n${m.stderrTail}`);
  const { output, localDestinationPaged } = await c.after();
  const left = await pagedBytes(scratch);
  const tempBytes = Math.max(0, m.writeBytes - localDestinationPaged);
  if (left.bytes > 0) log(`  note: ${c.name} left ${left.bytes} bytes in its scratch/TMPDIR folder`);
  return { ...m, output, tempBytes };
}

/** Alternates the cases run by run and returns every record per case. */
export async function alternate(cases: Case[], scratchRoot: string, n = runs): Promise<Map<string, RunRecord[]>> {
  const out = new Map<string, RunRecord[]>(cases.map((c) => [c.name, []]));
  for (let i = 0; i < n; i++) {
    for (const c of cases) {
      const r = await runCase(c, join(scratchRoot, "scratch"));
      out.get(c.name)!.push(r);
      log(
        `  ${c.name} #${i + 1}: ${(r.wallMs / 1000).toFixed(2)} s, CPU ${r.cpuS.toFixed(2)} s, peak RSS ${(r.peakRssBytes / MiB).toFixed(0)} MiB, ` +
          `output ${(r.output / MiB).toFixed(1)} MiB, local writes ${(r.writeBytes / MiB).toFixed(1)} MiB, temp ${(r.tempBytes / MiB).toFixed(1)} MiB`,
      );
    }
  }
  return out;
}

export interface Row {
  group: string;
  name: string;
  wallS: number;
  wallMinS: number;
  wallMaxS: number;
  cpuS: number;
  peakRssMiB: number;
  tempMiB: number;
  outputMiB: number;
  runs: number;
}

export function summarize(group: string, results: Map<string, RunRecord[]>): Row[] {
  return [...results].map(([name, rs]) => ({
    group,
    name,
    wallS: median(rs.map((r) => r.wallMs)) / 1000,
    wallMinS: Math.min(...rs.map((r) => r.wallMs)) / 1000,
    wallMaxS: Math.max(...rs.map((r) => r.wallMs)) / 1000,
    cpuS: median(rs.map((r) => r.cpuS)),
    peakRssMiB: Math.max(...rs.map((r) => r.peakRssBytes)) / MiB,
    tempMiB: Math.max(...rs.map((r) => r.tempBytes)) / MiB,
    outputMiB: median(rs.map((r) => r.output)) / MiB,
    runs: rs.length,
  }));
}

export function table(rows: Row[], ratios: Record<string, string>): string {
  const head =
    "| group | approach | wall s (median) | min–max s | CPU s (tree, median) | peak RSS MiB (tree, max) | temp MiB | output MiB | ratio |";
  const sep = "|---|---|---:|---:|---:|---:|---:|---:|---|";
  const lines = rows.map(
    (r) =>
      `| ${r.group} | ${r.name} | ${r.wallS.toFixed(2)} | ${r.wallMinS.toFixed(2)}–${r.wallMaxS.toFixed(2)} | ${r.cpuS.toFixed(2)} | ${r.peakRssMiB.toFixed(0)} | ${r.tempMiB.toFixed(1)} | ${r.outputMiB.toFixed(1)} | ${ratios[`${r.group}/${r.name}`] ?? ""} |`,
  );
  return [head, sep, ...lines].join("\n");
}
