// The bench's compression matrices: the runner to file:// per media compression setting and per
// PG_DUMP_COMPRESSION spec, each beside its stage alone (size and time).
import { execFileSync } from "node:child_process";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import {
  MiB,
  RUNNER,
  alternate,
  log,
  pagedBytes,
  runs,
  summarize,
  type BenchContext,
  type Case,
  type Row,
} from "./harness.js";

/** One stage measured alone, once: its name, time and output size. */
export interface StageRow {
  name: string;
  seconds: number;
  outputMiB: number;
}

/** A runner backup to its own file:// folder, measured by the size it wrote, then removed. */
function matrixCase(ctx: BenchContext, name: string, dir: string, extra: NodeJS.ProcessEnv): Case {
  return {
    name,
    script: `exec node "${RUNNER}" backup --tier daily`,
    env: ctx.runnerEnv(`file://${dir}`, extra),
    before: () => rm(dir, { recursive: true, force: true }),
    after: async () => {
      const p = await pagedBytes(dir);
      await rm(dir, { recursive: true, force: true });
      return { output: p.bytes, localDestinationPaged: p.paged };
    },
  };
}

/** --matrix: the runner to file:// with each media compression setting, and the media stage alone. */
export async function mediaMatrixGroup(ctx: BenchContext): Promise<{ rows: Row[]; mediaStage: StageRow[] }> {
  const { work, media } = ctx;
  const mediaStage: StageRow[] = [];
  const options: [string, string][] = [
    ["gzip", "1"],
    ["gzip", "6"],
    ["zstd", "1"],
    ["zstd", "3"],
    ["zstd", "6"],
    ["none", "0"],
  ];
  const matrixCases: Case[] = options.map(([kind, level]) =>
    matrixCase(
      ctx,
      `runner → file:// media ${kind}${kind === "none" ? "" : ` -${level}`}`,
      join(work, `matrix-${kind}-${level}`),
      {
        MEDIA_COMPRESSION: kind,
        ...(kind === "none" ? {} : { MEDIA_COMPRESSION_LEVEL: level }),
      },
    ),
  );
  log(`matrix: ${runs} alternating runs of ${matrixCases.length} media compression settings`);
  const rows = summarize("matrix", await alternate(matrixCases, work));
  // The media stage alone (no pg_dump competing), once each, for the size/speed trade-off.
  for (const [kind, level] of options) {
    const prog = kind === "gzip" ? `gzip -${level}` : kind === "zstd" ? `zstd -q -T0 -${level}` : "";
    const script = `set -o pipefail; tar -cf - ${prog ? `--use-compress-program="${prog}"` : ""} -C "${media.dir}" . | wc -c`;
    const started = Date.now();
    const out = execFileSync("bash", ["-c", script]).toString().trim();
    mediaStage.push({
      name: `${kind}${kind === "none" ? "" : ` -${level}`}`,
      seconds: (Date.now() - started) / 1000,
      outputMiB: Number(out) / MiB,
    });
  }
  return { rows, mediaStage };
}

/** --db-matrix: the runner to file:// with each PG_DUMP_COMPRESSION spec beside the limit, and the dump stage alone. */
export async function dbMatrixGroup(
  ctx: BenchContext,
  limitCase: Case,
): Promise<{ rows: Row[]; dumpStage: StageRow[] }> {
  const { work, baseEnv, defaultsEnv } = ctx;
  const dumpStage: StageRow[] = [];
  const specs = ["gzip:6", "gzip:1", "zstd:1", "zstd:3", "zstd:6", "none"];
  const dbCases: Case[] = specs.map((spec) =>
    matrixCase(ctx, `runner → file:// database ${spec}`, join(work, `dbmatrix-${spec.replace(":", "-")}`), {
      ...defaultsEnv,
      PG_DUMP_COMPRESSION: spec,
    }),
  );
  // The limit alternates with them, so each ratio compares runs under the same load.
  log(`db-matrix: ${runs} alternating runs of ${dbCases.length} dump compression specs and the limit`);
  const rows = summarize("db-matrix", await alternate([limitCase, ...dbCases], work));
  // The dump stage alone (no tar competing), once each: its time and its size.
  for (const spec of specs) {
    const [method, level] = spec.split(":");
    const script =
      method === "zstd"
        ? `set -o pipefail; pg_dump -Fc -Z0 | zstd -q -c --single-thread -${level} | wc -c`
        : `set -o pipefail; pg_dump -Fc -Z${level ?? 0} | wc -c`;
    const started = Date.now();
    const out = execFileSync("bash", ["-c", script], { env: baseEnv }).toString().trim();
    dumpStage.push({ name: spec, seconds: (Date.now() - started) / 1000, outputMiB: Number(out) / MiB });
  }
  return { rows, dumpStage };
}
