// Runs one command and measures it: wall time, peak RSS of its whole process tree, and the bytes
// it (and every descendant) wrote to local disk.
//
// Peak RSS: every ~50 ms the process tree under the command is walked (/proc/*/stat ppid links)
// and the VmRSS of every member is summed; the largest sum is kept. A 50 ms poll can miss a spike
// shorter than that, but the runner's memory (stream buffers, upload parts) is held for seconds.
// The bash wrapper below (~3 MiB) is not counted: it is the bench's, a pod runs the command itself.
//
// Disk writes: Linux adds a reaped child's I/O counters (including those of its own reaped
// children) to its parent's. The command therefore runs under a small bash wrapper that, after
// the command exited and was reaped, copies /proc/$$/io into a file: its write_bytes is every byte
// the whole tree caused to be written to a block device (page granularity; pipes, sockets and
// /dev/null count zero), including files written and deleted again before writeback
// (cancelled_write_bytes says how many of those were deleted). Writes done by other processes on
// the command's behalf (the PostgreSQL server during a restore, moto_server) are not counted.
import { spawn } from "node:child_process";
import { readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";

export interface Measurement {
  wallMs: number;
  /**
   * CPU seconds (user + system) of the whole reaped process tree (bash's `times` for its
   * children): less sensitive than wall time to other work sharing the cores. Work done on the
   * command's behalf by other processes (the PostgreSQL backend, moto) is not included.
   */
  cpuS: number;
  peakRssBytes: number;
  writeBytes: number;
  cancelledWriteBytes: number;
  /** Bytes the tree read through read(2) and friends (rchar: pipes and cached pages count too). */
  readChars: number;
  exitCode: number | null;
  stderrTail: string;
}

export interface MeasureOptions {
  env?: NodeJS.ProcessEnv;
  /** Working directory and TMPDIR of the command (an empty scratch folder). */
  scratch: string;
  /** Poll interval for RSS, ms. */
  pollMs?: number;
}

async function childrenMap(): Promise<Map<number, number[]>> {
  const map = new Map<number, number[]>();
  const entries = await readdir("/proc");
  await Promise.all(
    entries.map(async (name) => {
      if (!/^\d+$/.test(name)) return;
      try {
        const stat = await readFile(`/proc/${name}/stat`, "utf8");
        // pid (comm) state ppid ...; comm may contain spaces and parentheses.
        const after = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        const ppid = Number(after[1]);
        const list = map.get(ppid);
        if (list) list.push(Number(name));
        else map.set(ppid, [Number(name)]);
      } catch {
        // gone
      }
    }),
  );
  return map;
}

/** The summed VmRSS of every process below `root` (root itself, the wrapper, left out). */
async function treeRss(root: number): Promise<number> {
  const map = await childrenMap();
  const pids: number[] = [];
  const stack = [...(map.get(root) ?? [])];
  while (stack.length) {
    const pid = stack.pop()!;
    pids.push(pid);
    stack.push(...(map.get(pid) ?? []));
  }
  let total = 0;
  await Promise.all(
    pids.map(async (pid) => {
      try {
        const status = await readFile(`/proc/${pid}/status`, "utf8");
        const m = /VmRSS:\s+(\d+) kB/.exec(status);
        if (m) total += Number(m[1]) * 1024;
      } catch {
        // gone
      }
    }),
  );
  return total;
}

const WRAPPER = '"$@"; rc=$?; cat /proc/$$/io > "$BENCH_IO_FILE"; times >> "$BENCH_IO_FILE"; exit $rc';

/** The children's line of bash's `times` ("0m1.250s 0m0.310s") as seconds of user + system. */
function childCpuSeconds(text: string): number {
  const lines = text.split("\n").filter((l) => /^\d+m[\d.]+s \d+m[\d.]+s$/.test(l.trim()));
  const children = lines[1];
  if (!children) return NaN;
  return children
    .trim()
    .split(" ")
    .map((t) => {
      const [, m, s] = /^(\d+)m([\d.]+)s$/.exec(t)!;
      return Number(m) * 60 + Number(s);
    })
    .reduce((a, b) => a + b, 0);
}

export async function measure(command: string, args: readonly string[], options: MeasureOptions): Promise<Measurement> {
  const ioFile = join(options.scratch, `.io-${process.pid}-${Date.now()}`);
  const started = process.hrtime.bigint();
  const child = spawn("bash", ["-c", WRAPPER, "bench-wrapper", command, ...args], {
    cwd: options.scratch,
    env: { ...(options.env ?? process.env), TMPDIR: options.scratch, BENCH_IO_FILE: ioFile },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr = (stderr + s).slice(-4000)));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  let peak = 0;
  let running = true;
  const poller = (async () => {
    while (running) {
      if (child.pid) peak = Math.max(peak, await treeRss(child.pid).catch(() => 0));
      await new Promise((r) => setTimeout(r, options.pollMs ?? 50));
    }
  })();
  const exitCode = await exited;
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  running = false;
  await poller;
  const io = await readFile(ioFile, "utf8").catch(() => "");
  await rm(ioFile, { force: true });
  const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)`, "m").exec(io)?.[1] ?? NaN);
  return {
    wallMs,
    cpuS: childCpuSeconds(io),
    peakRssBytes: peak,
    writeBytes: field("write_bytes"),
    cancelledWriteBytes: field("cancelled_write_bytes"),
    readChars: field("rchar"),
    exitCode,
    stderrTail: stderr,
  };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
