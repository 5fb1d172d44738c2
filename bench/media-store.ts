// npm run bench:store -- [--files N] [--file-kib K] [--daily-sets D] [--skip-s3] [--skip-restic]
// npm run bench:store -- --tiny N
//
// The media store (MEDIA_FORMAT=store) beside the tar format and restic on one generated tree
// (default 5,000 files of 32 KiB, ~160 MB, incompressible), on file:// and on S3 (moto_server;
// --skip-s3 leaves it out; restic runs on file:// only): a first backup, then 1% of the files
// changed (0.5% rewritten, 0.25% new, 0.25% deleted) and a second backup. With --daily-sets D,
// D-2 more days of the same 1% change follow on file://, and the stored bytes after D sets are
// compared with the live tree (use a small tree: tar stores the whole tree every day).
// --tiny N: N files of 16 bytes (100 a folder), the store alone on file://: peak RSS of a first
// and an unchanged second backup (issue 22: ≤ 200 MiB at 1,000,000 files).
//
// Every run is measured by bench/measure.ts: wall time, CPU seconds of the process tree (less
// sensitive to other work on the machine), peak RSS of the tree, rchar (bytes the tree read
// through read(2), /proc/<pid>/io: the second backup should read only what changed) and the load
// average when it started. Writes .bench/media-store/results.json.
// Then the newest set of each format on file:// is restored whole (`restore latest --media-only`
// into a new folder; issue 22: the store at least as fast as tar).
// Last, one file of the file:// store's newest set is restored with `restore --media-only --path`
// into a new folder (issue 22: one file out of a 50,000-file set in <= 2 s; its cost grows with
// the index, read whole, not with the media: only that file's object is read).
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { mkdir, readdir, rm, stat, unlink, writeFile } from "node:fs/promises";
import { loadavg } from "node:os";
import { join, relative, resolve } from "node:path";
import { CreateBucketCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { awsTestEnv, startMoto, type Moto } from "../test/helpers/moto.js";
import { measure } from "./measure.js";

const REPO = resolve(__dirname, "..");
const RUNNER = join(REPO, "dist", "edms-backup.cjs");
const WORK = join(REPO, ".bench", "media-store");
const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const flag = (name: string) => process.argv.includes(name);
const TINY = arg("--tiny") === undefined ? undefined : Number(arg("--tiny"));
const FILES = TINY ?? Number(arg("--files") ?? 5000);
const FILE_BYTES = TINY === undefined ? Number(arg("--file-kib") ?? 32) * 1024 : 16;
const DAILY_SETS = Number(arg("--daily-sets") ?? 2);
const STORE_KEY = "bench-store-key-0123456789abcdef0123456789";
/**
 * The runner runs as the image runs it: with the memory settings runner/Dockerfile's ENV sets
 * (V8's heap, glibc's malloc arenas; issue 22's peak RSS was measured with them).
 */
const DOCKERFILE = readFileSync(join(REPO, "runner", "Dockerfile"), "utf8");
const IMAGE_MEMORY_ENV: Record<string, string> = Object.fromEntries(
  ["NODE_OPTIONS", "MALLOC_ARENA_MAX"].flatMap((name) => {
    const value = new RegExp(`^\\s*${name}=("[^"]*"|[^\\s\\\\]+)`, "m").exec(DOCKERFILE)?.[1];
    return value === undefined ? [] : [[name, value.replace(/^"|"$/g, "")]];
  }),
);
const RUNNER_ENV = { LOG_LEVEL: "warn", LOG_FORMAT: "json", ...IMAGE_MEMORY_ENV };

async function treeBytes(path: string): Promise<number> {
  const info = await stat(path).catch(() => undefined);
  if (!info) return 0;
  if (!info.isDirectory()) return info.size;
  let sum = 0;
  for (const e of await readdir(path)) sum += await treeBytes(join(path, e));
  return sum;
}

interface Run {
  approach: string;
  run: string;
  seconds: number;
  cpuS: number;
  peakRssMiB: number;
  readMB: number;
  grewMB: number;
  load1: number;
}

interface Approach {
  /** What the destination holds now, in bytes. */
  size: () => Promise<number>;
  command: [string, string[], NodeJS.ProcessEnv];
  /** Part of the daily-sets series (file:// only). */
  daily: boolean;
}

async function timed(a: Approach): Promise<Omit<Run, "approach" | "run" | "grewMB">> {
  const [command, args, env] = a.command;
  const scratch = join(WORK, "scratch");
  await mkdir(scratch, { recursive: true });
  const load1 = loadavg()[0]!;
  const m = await measure(command, args, { env: { ...process.env, ...env }, scratch });
  if (m.exitCode !== 0) throw new Error(`${command} ${args.join(" ")} exited ${m.exitCode}: ${m.stderrTail}`);
  return {
    seconds: m.wallMs / 1000,
    cpuS: m.cpuS,
    peakRssMiB: m.peakRssBytes / 2 ** 20,
    readMB: m.readChars / 1e6,
    load1,
  };
}

/** moto_server with a "bench" bucket, and the bytes stored under a prefix of it. */
async function startS3(): Promise<{ moto: Moto; bucketBytes: (prefix: string) => Promise<number> }> {
  const moto = await startMoto();
  const s3 = new S3Client({
    endpoint: moto.endpoint,
    forcePathStyle: true,
    region: "us-east-1",
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
  });
  await s3.send(new CreateBucketCommand({ Bucket: "bench" }));
  const bucketBytes = async (prefix: string) => {
    let sum = 0;
    let token: string | undefined;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({ Bucket: "bench", Prefix: prefix, ContinuationToken: token }),
      );
      for (const o of page.Contents ?? []) sum += o.Size ?? 0;
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return sum;
  };
  return { moto, bucketBytes };
}

/** The newest file:// set of `format` restored whole into a new folder, as a user would. */
async function restoreFull(format: "tar" | "store", media: string): Promise<Run> {
  const into = join(WORK, `restored-${format}`);
  // The previous run's written bytes reach the disk first, not during this restore (5 GB of the
  // tar restore's dirty pages would otherwise be written back on the store restore's clock).
  execFileSync("sync");
  const run = await timed({
    size: async () => 0,
    daily: false,
    command: [
      "node",
      [RUNNER, "restore", "latest", "--media-only", "--media-dir", into, "--yes", "--no-keep-previous"],
      { BACKUP_DESTINATION: `file://${join(WORK, format)}`, MEDIA_DIR: media, ...RUNNER_ENV },
    ],
  });
  return { approach: format, run: "full restore (media only)", grewMB: 0, ...run };
}

/**
 * One file back after an accidental deletion, as the runbook's 3 a.m. journey runs it: a file the
 * file:// store's newest set holds (the first from the middle of the tree no change deleted).
 */
async function restoreOneFile(
  media: string,
  name: (i: number) => string,
): Promise<Omit<Run, "approach" | "run" | "grewMB"> & { path: string }> {
  let pick = Math.floor(FILES / 2);
  while (!(await stat(name(pick)).catch(() => undefined))) pick = (pick + 1) % FILES;
  const oneFile = relative(media, name(pick));
  const run = await timed({
    size: async () => 0,
    daily: false,
    command: [
      "node",
      [RUNNER, "restore", "latest", "--media-only", "--path", oneFile, "--media-dir", join(WORK, "one-file"), "--yes"],
      { BACKUP_DESTINATION: `file://${join(WORK, "store")}`, MEDIA_DIR: media, ...RUNNER_ENV },
    ],
  });
  return { path: oneFile, ...run };
}

function report(
  result: {
    files: number;
    liveMB: number;
    changedMB: number;
    rows: Run[];
    oneFile: Awaited<ReturnType<typeof restoreOneFile>>;
  },
  stored: Record<string, number>,
  liveAfter: number,
): void {
  const out = (s: string) => process.stdout.write(`${s}\n`);
  out(`tree: ${result.files} files, ${result.liveMB.toFixed(1)} MB; changed a day: ${result.changedMB.toFixed(2)} MB`);
  out(`the runner ran with runner/Dockerfile's ${JSON.stringify(IMAGE_MEMORY_ENV)}`);
  out("| approach | run | wall s | CPU s | peak RSS MiB | read (rchar) MB | destination grew (MB) | load (1 min) |");
  out("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const r of result.rows.filter((r) => !r.run.startsWith("day ")))
    out(
      `| ${r.approach} | ${r.run} | ${r.seconds.toFixed(2)} | ${r.cpuS.toFixed(2)} | ${r.peakRssMiB.toFixed(0)} | ${r.readMB.toFixed(1)} | ${r.grewMB.toFixed(2)} | ${r.load1.toFixed(1)} |`,
    );
  // Issue 22's ratios for the store on each destination: what its second backup read of the live
  // tree (rchar) and its wall time against its first's.
  for (const approach of new Set(result.rows.filter((r) => r.approach.startsWith("store")).map((r) => r.approach))) {
    const first = result.rows.find((r) => r.approach === approach && r.run === "first");
    const second = result.rows.find((r) => r.approach === approach && r.run.startsWith("second (1%"));
    if (first && second)
      out(
        `${approach}, second backup: read ${((100 * second.readMB) / result.liveMB).toFixed(2)}% of the live tree, wall ${((100 * second.seconds) / first.seconds).toFixed(1)}% of the first's`,
      );
  }
  const one = result.oneFile;
  out(
    `\none file out of the store's newest ${result.files}-file set (restore --path ${one.path}): ${one.seconds.toFixed(2)} s wall, ${one.cpuS.toFixed(2)} CPU s, ${one.peakRssMiB.toFixed(0)} MiB peak RSS`,
  );
  if (DAILY_SETS > 2) {
    out(
      `\nafter ${DAILY_SETS} daily sets at 1% change, stored bytes / live tree (${(liveAfter / 1e6).toFixed(1)} MB):`,
    );
    for (const [approach, ratio] of Object.entries(stored)) out(`- ${approach}: ${ratio.toFixed(2)}x`);
  }
}

/** The runner (tar and store formats) on file:// and S3, and restic on file://, backing up `media`. */
function approachesFor(
  media: string,
  s3: { endpoint: string; bucketBytes: (prefix: string) => Promise<number> } | undefined,
): Record<string, Approach> {
  const base = { BACKUP_DATABASE: "false", MEDIA_DIR: media, ...RUNNER_ENV };
  const formats = {
    tar: { MEDIA_FORMAT: "tar" },
    store: { MEDIA_FORMAT: "store", MEDIA_STORE_KEY: STORE_KEY },
  };
  const runner = (destination: string, env: NodeJS.ProcessEnv): Approach["command"] => [
    "node",
    [RUNNER, "backup", "--tier", "daily"],
    { ...base, BACKUP_DESTINATION: destination, ...env },
  ];
  const approaches: Record<string, Approach> = {};
  for (const [format, env] of Object.entries(formats)) {
    if (TINY !== undefined && format === "tar") continue;
    const dest = join(WORK, format);
    approaches[format] = { size: () => treeBytes(dest), command: runner(`file://${dest}`, env), daily: true };
  }
  if (TINY === undefined && !flag("--skip-restic")) {
    const repo = join(WORK, "restic");
    execFileSync("restic", ["-q", "-r", repo, "init"], { env: { ...process.env, RESTIC_PASSWORD: "bench" } });
    approaches.restic = {
      size: () => treeBytes(repo),
      command: ["restic", ["-q", "-r", repo, "backup", media], { RESTIC_PASSWORD: "bench" }],
      daily: true,
    };
  }
  if (s3)
    for (const [format, env] of Object.entries(formats))
      approaches[`${format} → S3 (moto)`] = {
        size: () => s3.bucketBytes(`${format}/`),
        command: runner(`s3://bench/${format}`, { ...env, ...awsTestEnv(), S3_ENDPOINT: s3.endpoint }),
        daily: false,
      };
  return approaches;
}

async function main(): Promise<void> {
  await rm(WORK, { recursive: true, force: true });
  const media = join(WORK, "media");
  const perFolder = 100;
  const folders = Math.ceil(FILES / perFolder);
  // Tiny trees nest (d<k>/e<j>/) so no folder holds more than 100 entries.
  const folderOf = (i: number) =>
    TINY === undefined
      ? `d${Math.floor(i / perFolder) % folders}`
      : join(`d${Math.floor(i / 10_000)}`, `e${Math.floor(i / perFolder) % 100}`);
  const name = (i: number) => join(media, folderOf(i), `doc-${i}.pdf`);
  for (let i = 0; i < FILES; i += perFolder) await mkdir(join(media, folderOf(i)), { recursive: true });
  for (let i = 0; i < FILES; i += 1) await writeFile(name(i), randomBytes(FILE_BYTES));
  const live = await treeBytes(media);

  const { moto, bucketBytes } = TINY === undefined && !flag("--skip-s3") ? await startS3() : { moto: undefined };
  const approaches = approachesFor(media, moto && { endpoint: moto.endpoint, bucketBytes: bucketBytes! });

  const rows: Run[] = [];
  const runAll = async (run: string, which: (a: Approach) => boolean) => {
    for (const [approach, a] of Object.entries(approaches)) {
      if (!which(a)) continue;
      const before = await a.size();
      const measured = await timed(a);
      rows.push({ approach, run, ...measured, grewMB: ((await a.size()) - before) / 1e6 });
    }
  };
  // 1% change: rewritten, new, deleted (day `d` touches other files than day d-1).
  const pct = (p: number) => Math.max(1, Math.round((FILES * p) / 100));
  let newFiles = 0;
  const change = async (day: number) => {
    for (let i = 0; i < pct(0.5); i += 1)
      await writeFile(name((i * 7 + day * 13) % FILES), randomBytes(FILE_BYTES)).catch(() => undefined);
    for (let i = 0; i < pct(0.25); i += 1)
      await writeFile(join(media, folderOf(0), `new-${(newFiles += 1)}.pdf`), randomBytes(FILE_BYTES));
    for (let i = 0; i < pct(0.25); i += 1)
      await unlink(name((FILES - 1 - i * 3 - day * 11 + FILES) % FILES)).catch(() => undefined);
  };
  try {
    await runAll("first", () => true);
    if (TINY !== undefined) await runAll("second (unchanged)", () => true);
    await change(1);
    await runAll("second (1% changed)", () => true);
    for (let day = 3; day <= DAILY_SETS; day += 1) {
      await change(day);
      await runAll(`day ${day}`, (a) => a.daily);
    }
  } finally {
    await moto?.stop();
  }
  // Both restored trees are removed only after both restores: on ext4, files created right after
  // thousands were deleted cost several times more kernel time (ext4_create skips recently
  // deleted inodes), which would bill the second format for the first one's clean-up.
  if (TINY === undefined) for (const format of ["tar", "store"] as const) rows.push(await restoreFull(format, media));
  for (const format of ["tar", "store"]) await rm(join(WORK, `restored-${format}`), { recursive: true, force: true });
  const oneFile = await restoreOneFile(media, name);
  const liveAfter = await treeBytes(media);
  const stored: Record<string, number> = {};
  for (const [approach, a] of Object.entries(approaches)) if (a.daily) stored[approach] = (await a.size()) / liveAfter;

  const changedMB = ((pct(0.5) + pct(0.25)) * FILE_BYTES) / 1e6;
  const result = {
    files: FILES,
    fileBytes: FILE_BYTES,
    liveMB: live / 1e6,
    changedMB,
    dailySets: DAILY_SETS,
    rows,
    oneFile,
  };
  await writeFile(join(WORK, "results.json"), JSON.stringify({ ...result, storedOverLive: stored }, null, 2));
  report(result, stored, liveAfter);
}

void main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
