// The bench's backup groups: today's script, the runner to file:// (plain and with age) and the
// limit; then the runner to s3:// (moto) against shell pipelines.
import { readdir, mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { CreateBucketCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import type { Moto } from "../test/helpers/moto.js";
import {
  REPO,
  RUNNER,
  alternate,
  log,
  noOutput,
  pagedBytes,
  runs,
  sh,
  summarize,
  type BenchContext,
  type Case,
  type Row,
} from "./harness.js";

/** The runner's set the later groups read: its objects' names, and a copy of it kept for restore. */
export interface RunnerSet {
  kept: string;
  mediaObject: string;
  dumpObject: string;
  dumpToStdout: (file: string) => string;
  compressProgram: string;
}

function backupCaseList(ctx: BenchContext, runnerDir: string): Case[] {
  const { work, media, baseEnv, runnerEnv, defaultsEnv, encrypted } = ctx;
  const todayDir = join(work, "today");
  const runnerAgeDir = join(work, "runner-file-age");
  return [
    {
      name: "today (backup-hybrid.sh)",
      script: `exec "${join(REPO, "bench", "baseline-hybrid.sh")}" "${todayDir}" "${media.dir}"`,
      env: baseEnv,
      before: async () => {
        await rm(todayDir, { recursive: true, force: true });
        await mkdir(todayDir, { recursive: true });
      },
      after: async () => {
        const p = await pagedBytes(todayDir);
        return { output: p.bytes, localDestinationPaged: p.paged };
      },
    },
    {
      name: "runner → file://",
      script: `exec node "${RUNNER}" backup --tier daily`,
      env: runnerEnv(`file://${runnerDir}`, defaultsEnv),
      before: () => rm(runnerDir, { recursive: true, force: true }),
      after: async () => {
        const p = await pagedBytes(runnerDir);
        return { output: p.bytes, localDestinationPaged: p.paged };
      },
    },
    {
      name: "runner → file:// + age",
      script: `exec node "${RUNNER}" backup --tier daily`,
      env: runnerEnv(`file://${runnerAgeDir}`, { ...defaultsEnv, ...encrypted }),
      before: () => rm(runnerAgeDir, { recursive: true, force: true }),
      after: async () => {
        const p = await pagedBytes(runnerAgeDir);
        return { output: p.bytes, localDestinationPaged: p.paged };
      },
    },
    {
      name: "limit (pg_dump & tar → /dev/null)",
      script: `set -o pipefail; pg_dump -Fc > /dev/null & d=$!; tar -cf - -C "${media.dir}" . | cat > /dev/null; t=$?; wait $d; exit $(( t | $? ))`,
      env: baseEnv,
      after: noOutput,
    },
  ];
}

/** Backup: today, runner to file:// (plain and + age), limit. Its limit case is the db-matrix's too. */
export async function backupGroup(ctx: BenchContext): Promise<{ rows: Row[]; limitCase: Case; set: RunnerSet }> {
  const { work, onlyMatrix } = ctx;
  const runnerDir = join(work, "runner-file");
  const backupCases = backupCaseList(ctx, runnerDir);
  // --only-matrix: the runner (its set feeds the later groups) and the limit only.
  const mainCases = onlyMatrix
    ? backupCases.filter((c) => c.name.startsWith("limit") || c.name === "runner → file://")
    : backupCases;
  log(`backup: ${runs} alternating runs of ${mainCases.length} approaches`);
  const backupResults = await alternate(mainCases, work);
  const rows = summarize("backup", backupResults);
  return {
    rows,
    limitCase: backupCases.find((c) => c.name.startsWith("limit"))!,
    set: await runnerSet(runnerDir, work),
  };
}

/** Which compression did the runner use? (for the S3 shell pipeline and the restore) */
async function runnerSet(runnerDir: string, work: string): Promise<RunnerSet> {
  const sets = await readdir(join(runnerDir, "daily"));
  const setFiles = await readdir(join(runnerDir, "daily", sets[0]!));
  const mediaObject = setFiles.find((f) => f.startsWith("storage."))!;
  // database.dump (pg_dump's own compression) or database.dump.zst (PG_DUMP_COMPRESSION=zstd:N)
  const dumpObject = setFiles.find((f) => f.startsWith("database."))!;
  const dumpToStdout = dumpObject.endsWith(".zst") ? (f: string) => `zstd -q -d < "${f}"` : (f: string) => `cat "${f}"`;
  const compressProgram = mediaObject.endsWith(".gz")
    ? "gzip -1"
    : mediaObject.endsWith(".zst")
      ? "zstd -q -T0 -3"
      : "";
  const kept = join(work, "restore-source");
  await rm(kept, { recursive: true, force: true });
  await sh("bash", ["-c", `cp -r "${runnerDir}" "${kept}"`]);
  return { kept, mediaObject, dumpObject, dumpToStdout, compressProgram };
}

/** S3: the runner to s3:// (moto), plain and + age, against pg_dump | aws s3 cp & tar | aws s3 cp. */
export async function s3Group(ctx: BenchContext, moto: Moto, set: RunnerSet): Promise<Row[]> {
  const { media, baseEnv, runnerEnv, defaultsEnv, encrypted } = ctx;
  const { mediaObject, compressProgram } = set;
  const s3 = new S3Client({
    endpoint: moto.endpoint,
    forcePathStyle: true,
    region: "us-east-1",
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
  });
  const resetBucket = async () => {
    await fetch(`${moto!.endpoint}/moto-api/reset`, { method: "POST" });
    await s3.send(new CreateBucketCommand({ Bucket: "bench" }));
  };
  const listed = async (prefix: string) => {
    const out = await s3.send(new ListObjectsV2Command({ Bucket: "bench", Prefix: prefix }));
    return (out.Contents ?? []).reduce((s, o) => s + (o.Size ?? 0), 0);
  };
  const ep = moto.endpoint;
  const tarCmd = `tar -cf - ${compressProgram ? `--use-compress-program="${compressProgram}"` : ""} -C "${media.dir}" .`;
  const s3Cases: Case[] = [
    {
      name: "runner → s3:// (moto)",
      script: `exec node "${RUNNER}" backup --tier daily`,
      env: runnerEnv("s3://bench/runner", { ...defaultsEnv, S3_ENDPOINT: ep }),
      before: resetBucket,
      after: async () => ({ output: await listed("runner/"), localDestinationPaged: 0 }),
    },
    {
      name: "runner → s3:// (moto) + age",
      script: `exec node "${RUNNER}" backup --tier daily`,
      env: runnerEnv("s3://bench/runner-age", { ...defaultsEnv, ...encrypted, S3_ENDPOINT: ep }),
      before: resetBucket,
      after: async () => ({ output: await listed("runner-age/"), localDestinationPaged: 0 }),
    },
    {
      name: "shell: pg_dump \\| aws s3 cp - & tar \\| aws s3 cp -",
      script:
        `set -o pipefail; pg_dump -Fc | aws s3 cp - s3://bench/shell/database.dump --endpoint-url ${ep} --only-show-errors & d=$!; ` +
        `${tarCmd} | aws s3 cp - s3://bench/shell/${mediaObject} --endpoint-url ${ep} --only-show-errors; t=$?; wait $d; exit $(( t | $? ))`,
      env: baseEnv,
      before: resetBucket,
      after: async () => ({ output: await listed("shell/"), localDestinationPaged: 0 }),
    },
  ];
  log(`S3: ${runs} alternating runs of ${s3Cases.length} approaches (media: ${mediaObject})`);
  return summarize("s3", await alternate(s3Cases, ctx.work));
}
