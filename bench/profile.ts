// npm run bench:profile -- [--size small|pgbench20|large] [--runs N] [--command backup|restore] NAME=BUNDLE...
//
// CPU profiles of the runner (`node --cpu-prof`, main thread and worker threads) on a bench
// dataset, alternating the given bundles run by run (e.g. before=/tmp/old.cjs after=dist/edms-backup.cjs).
// For each bundle it prints medians over the runs of: wall time, the main thread's busy time
// (samples that are not idle, i.e. what the event loop spent), the part of it inside sha256
// (node:crypto's Hash update/digest), the busy time of worker threads, and the main thread's top
// functions by self time. The event loop is the one thread that moves every byte of both streams,
// so its busy time (not wall time, which other load moves by ±50%) is what hashing off it saves.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir, loadavg } from "node:os";
import { basename, join, resolve } from "node:path";
import { startPgCluster } from "../test/helpers/pg-cluster.js";
import { SPECS, createDatabase, ensureMedia, type SizeName } from "./dataset.js";
import { median } from "./measure.js";

const REPO = resolve(__dirname, "..");
const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const size = (arg("--size") ?? "small") as SizeName;
const runs = Number(arg("--runs") ?? 3);
const command = arg("--command") ?? "backup";
const bundles = process.argv
  .slice(2)
  .filter((a) => /^[\w-]+=/.test(a))
  .map((a) => {
    const [name, file] = a.split(/=(.*)/s) as [string, string];
    return { name, file: resolve(file) };
  });
if (!bundles.length) throw new Error("give at least one NAME=BUNDLE (e.g. after=dist/edms-backup.cjs)");
const log = (s: string) => process.stderr.write(`[profile ${new Date().toISOString().slice(11, 19)}] ${s}\n`);

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

interface ThreadSummary {
  busyMs: number;
  hashMs: number;
  top: Map<string, number>;
}

/** Self time per node, attributed from the sample deltas (µs). */
function summarize(profile: CpuProfile): ThreadSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  let busy = 0;
  let hash = 0;
  const top = new Map<string, number>();
  for (const [id, us] of self) {
    const frame = byId.get(id)!.callFrame;
    if (["(idle)", "(program)", "(garbage collector)", "(root)"].includes(frame.functionName) && frame.url === "") {
      if (frame.functionName !== "(garbage collector)") continue;
    }
    busy += us;
    // node:crypto's Hash: the native update/digest called from its JS wrappers.
    let inHash = false;
    for (let p: number | undefined = id; p !== undefined; p = parent.get(p)) {
      const f = byId.get(p)!.callFrame;
      if (/node:internal\/crypto\/hash/.test(f.url)) inHash = true;
    }
    if (inHash) hash += us;
    const key = `${frame.functionName || "(anonymous)"} ${basename(frame.url)}`;
    top.set(key, (top.get(key) ?? 0) + us);
  }
  return { busyMs: busy / 1000, hashMs: hash / 1000, top };
}

async function main(): Promise<void> {
  const spec = SPECS[size];
  const benchRoot = join(REPO, ".bench");
  const media = await ensureMedia(benchRoot, spec, log);
  const cluster = await startPgCluster();
  try {
    const env = { ...process.env, PATH: `${cluster.binDir}:${process.env.PATH}`, ...cluster.env("bench") };
    log(`creating the database (pgbench -s ${spec.pgbenchScale} + ${spec.documents} documents)`);
    await createDatabase(cluster.binDir, env, "bench", spec);
    const work = await mkdtemp(join(tmpdir(), "edms-profile-"));
    const source = join(work, "source");
    const runnerEnv = {
      ...env,
      DATABASE_URL: cluster.url("bench"),
      MEDIA_DIR: media.dir,
      LOG_FORMAT: "json",
      LOG_LEVEL: "warn",
      PG_BIN_DIR: cluster.binDir,
      // The tar pipeline, as bench/run.ts measures it; MEDIA_FORMAT=store profiles the store.
      MEDIA_FORMAT: process.env.MEDIA_FORMAT ?? "tar",
    };
    if (command === "restore") {
      const r = spawnSync("node", [bundles[0]!.file, "backup", "--tier", "daily"], {
        env: { ...runnerEnv, BACKUP_DESTINATION: `file://${source}` },
        stdio: ["ignore", "ignore", "inherit"],
      });
      if (r.status !== 0) throw new Error("the source backup failed");
    }
    const results = new Map<string, { wall: number[]; main: ThreadSummary[]; workersMs: number[] }>(
      bundles.map((b) => [b.name, { wall: [], main: [], workersMs: [] }]),
    );
    const load = [loadavg()[0]!];
    for (let i = 0; i < runs; i++) {
      for (const b of bundles) {
        const dir = join(work, `prof-${b.name}-${i}`);
        const dest = join(work, `dest-${b.name}-${i}`);
        const target = join(work, `restored-${b.name}-${i}`);
        const args =
          command === "restore"
            ? ["restore", "latest", "--yes", "--target-db", `restored_${i}`, "--media-dir", target]
            : ["backup", "--tier", "daily"];
        const started = process.hrtime.bigint();
        const r = spawnSync("node", ["--cpu-prof", `--cpu-prof-dir=${dir}`, b.file, ...args], {
          env: {
            ...runnerEnv,
            BACKUP_DESTINATION: `file://${command === "restore" ? source : dest}`,
            ...(command === "restore" ? { DATABASE_URL: cluster.url("postgres") } : {}),
          },
          stdio: ["ignore", "ignore", "pipe"],
        });
        const wall = Number(process.hrtime.bigint() - started) / 1e6;
        if (r.status !== 0) throw new Error(`${b.name} run ${i + 1} failed: ${r.stderr?.toString().slice(-2000)}`);
        const files = (await readdir(dir)).filter((f) => f.endsWith(".cpuprofile")).sort();
        const profiles = await Promise.all(
          files.map(async (f) => JSON.parse(await readFile(join(dir, f), "utf8")) as CpuProfile),
        );
        // The main thread's profile starts first (workers start later); Node names files
        // CPU.<date>.<time>.<pid>.<tid>.<seq>.cpuprofile, tid 0 being the main thread.
        const mainIndex = files.findIndex((f) => /\.\d+\.0\.\d+\.cpuprofile$/.test(f));
        const summaries = profiles.map(summarize);
        const res = results.get(b.name)!;
        res.wall.push(wall);
        res.main.push(summaries[mainIndex]!);
        res.workersMs.push(summaries.filter((_, k) => k !== mainIndex).reduce((s, t) => s + t.busyMs, 0));
        log(
          `  ${b.name} #${i + 1}: wall ${(wall / 1000).toFixed(2)} s, main thread busy ${summaries[mainIndex]!.busyMs.toFixed(0)} ms ` +
            `(sha256 ${summaries[mainIndex]!.hashMs.toFixed(0)} ms), worker threads ${res.workersMs.at(-1)!.toFixed(0)} ms`,
        );
        await rm(dest, { recursive: true, force: true });
        await rm(target, { recursive: true, force: true });
        if (command === "restore")
          execFileSync(join(cluster.binDir, "psql"), ["-X", "-q", "-c", `DROP DATABASE IF EXISTS restored_${i}`], {
            env,
          });
      }
    }
    load.push(loadavg()[0]!);
    const lines = [
      `${command}, size=${size}, ${runs} alternating runs, load average ${load.map((l) => l.toFixed(1)).join(" → ")}; medians:`,
      "",
      "| bundle | wall s | main thread busy ms | of which sha256 ms | worker threads busy ms |",
      "|---|---:|---:|---:|---:|",
    ];
    for (const [name, r] of results)
      lines.push(
        `| ${name} | ${(median(r.wall) / 1000).toFixed(2)} | ${median(r.main.map((m) => m.busyMs)).toFixed(0)} | ${median(
          r.main.map((m) => m.hashMs),
        ).toFixed(0)} | ${median(r.workersMs).toFixed(0)} |`,
      );
    for (const [name, r] of results) {
      const last = r.main.at(-1)!;
      const top = [...last.top].sort((a, b) => b[1] - a[1]).slice(0, 8);
      lines.push("", `${name}, main thread, top self time (last run):`);
      for (const [fn, us] of top) lines.push(`  ${(us / 1000).toFixed(0).padStart(6)} ms  ${fn}`);
    }
    process.stdout.write(lines.join("\n") + "\n");
    await rm(work, { recursive: true, force: true });
  } finally {
    await cluster.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`profile failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
