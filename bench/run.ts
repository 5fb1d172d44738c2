// npm run bench -- [--size small|large|pgbench20] [--runs N] [--matrix] [--db-matrix] [--only-matrix]
//                   [--skip-s3] [--skip-restore]
//
// Generates (or reuses) a dataset, starts a throwaway PostgreSQL 15 cluster and moto_server, and
// measures side by side, alternating the approaches run by run (A,B,C,A,B,C,...):
//   backup:  today's script (bench/baseline-hybrid.sh), the runner to file://, the limit
//            (pg_dump -Fc and tar of the media, both to /dev/null, at the same time);
//   S3:      the runner to s3:// (moto) against `pg_dump -Fc | aws s3 cp -` + `tar | aws s3 cp -`;
//   restore: the runner's restore against pg_restore from a file + tar -x (at the same time);
//   --matrix: the runner to file:// with each media compression setting (the default choice).
//   --db-matrix: the runner to file:// with each PG_DUMP_COMPRESSION spec, beside the limit, and
//            the dump stage alone per spec (size and time); --only-matrix skips the other groups.
//   encryption: the runner with and without ENCRYPTION_RECIPIENTS (file:// and S3, alternating),
//            and the two age implementations (the `age` binary, the age-encryption npm package)
//            encrypting the runner's own objects.
// Prints medians and the ratios runner/limit and runner/today; writes .bench/<size>/results.json.
import { spawn, execFileSync } from "node:child_process";
import { mkdir, readdir, rm, stat, writeFile } from "node:fs/promises";
import { cpus, loadavg, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { CreateBucketCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { startPgCluster, type PgCluster } from "../test/helpers/pg-cluster.js";
import { awsTestEnv, startMoto, type Moto } from "../test/helpers/moto.js";
import { SPECS, createDatabase, ensureMedia, type SizeName } from "./dataset.js";
import { measure, median, type Measurement } from "./measure.js";

const REPO = resolve(__dirname, "..");
const RUNNER = join(REPO, "dist", "edms-backup.cjs");
const MiB = 2 ** 20;
/** pg_restore jobs for the restore rows that read a file (the runner's --jobs and the baseline's). */
const RESTORE_JOBS = 2;

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const flag = (name: string) => process.argv.includes(name);
const size = (arg("--size") ?? "small") as SizeName;
if (!(size in SPECS)) throw new Error(`--size must be small, large or pgbench20 (got ${size})`);
const runs = Number(arg("--runs") ?? 3);
const log = (s: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${s}\n`);

/** Bytes a file tree occupies in whole pages (what write_bytes counts for it). */
async function pagedBytes(path: string): Promise<{ bytes: number; paged: number }> {
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

function sh(command: string, args: string[], env?: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((res, rej) => {
    const c = spawn(command, args, { env: env ?? process.env, stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    c.stderr.setEncoding("utf8").on("data", (s: string) => (err += s));
    c.once("error", rej);
    c.once("exit", (code) => (code === 0 ? res() : rej(new Error(`${command} exited ${code}: ${err.slice(-2000)}`))));
  });
}

interface Case {
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
async function alternate(cases: Case[], scratchRoot: string, n = runs): Promise<Map<string, RunRecord[]>> {
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

interface Row {
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

function summarize(group: string, results: Map<string, RunRecord[]>): Row[] {
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

function table(rows: Row[], ratios: Record<string, string>): string {
  const head =
    "| group | approach | wall s (median) | min–max s | CPU s (tree, median) | peak RSS MiB (tree, max) | temp MiB | output MiB | ratio |";
  const sep = "|---|---|---:|---:|---:|---:|---:|---:|---|";
  const lines = rows.map(
    (r) =>
      `| ${r.group} | ${r.name} | ${r.wallS.toFixed(2)} | ${r.wallMinS.toFixed(2)}–${r.wallMaxS.toFixed(2)} | ${r.cpuS.toFixed(2)} | ${r.peakRssMiB.toFixed(0)} | ${r.tempMiB.toFixed(1)} | ${r.outputMiB.toFixed(1)} | ${ratios[`${r.group}/${r.name}`] ?? ""} |`,
  );
  return [head, sep, ...lines].join("\n");
}

async function main(): Promise<void> {
  const spec = SPECS[size];
  const benchRoot = join(REPO, ".bench");
  const work = join(benchRoot, size, "work");
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  const t0 = Date.now();
  const loadAtStart = loadavg();

  log("building the runner bundle");
  execFileSync(process.execPath, ["--import", "tsx", join(REPO, "scripts", "build-runner.ts")], {
    cwd: REPO,
    stdio: ["ignore", "ignore", "inherit"],
  });

  let cluster: PgCluster | undefined;
  let moto: Moto | undefined;
  const cleanup = async () => {
    await moto?.stop().catch(() => undefined);
    await cluster?.stop().catch(() => undefined);
  };
  const onSignal = () => void cleanup().finally(() => process.exit(130));
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    const media = await ensureMedia(benchRoot, spec, log);
    log("starting PostgreSQL and moto_server");
    [cluster, moto] = await Promise.all([
      startPgCluster(),
      flag("--skip-s3") ? Promise.resolve(undefined) : startMoto(),
    ]);
    const binDir = cluster.binDir;
    const baseEnv: NodeJS.ProcessEnv = {
      ...process.env,
      PATH: `${binDir}:${process.env.PATH}`,
      ...cluster.env("bench"),
      ...awsTestEnv(),
    };
    const tGen = Date.now();
    log(`creating the database (pgbench -s ${spec.pgbenchScale} + ${spec.documents} documents)`);
    await createDatabase(binDir, baseEnv, "bench", spec);
    const dbBytes = Number(
      execFileSync(join(binDir, "psql"), ["-X", "-At", "-c", "SELECT pg_database_size('bench')"], { env: baseEnv })
        .toString()
        .trim(),
    );
    log(
      `database ${(dbBytes / MiB).toFixed(0)} MiB in ${((Date.now() - tGen) / 1000).toFixed(1)} s; media ${media.files} files, ${(media.bytes / MiB).toFixed(0)} MiB`,
    );

    const runnerEnv = (destination: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
      ...baseEnv,
      DATABASE_URL: cluster!.url("bench"),
      MEDIA_DIR: media.dir,
      BACKUP_DESTINATION: destination,
      LOG_FORMAT: "json",
      LOG_LEVEL: "warn",
      PG_BIN_DIR: binDir,
      // These rows are the tar format beside today's script and the limit (tar too); the store is
      // `npm run bench:store`'s (bench/media-store.ts). MEDIA_FORMAT=store here measures it anyway.
      MEDIA_FORMAT: process.env.MEDIA_FORMAT ?? "tar",
      ...extra,
    });
    const mediaCompression = process.env.MEDIA_COMPRESSION; // default: the runner's own default
    const defaultsEnv: NodeJS.ProcessEnv = {
      ...(mediaCompression
        ? { MEDIA_COMPRESSION: mediaCompression, MEDIA_COMPRESSION_LEVEL: process.env.MEDIA_COMPRESSION_LEVEL }
        : {}),
      ...(process.env.PG_DUMP_COMPRESSION ? { PG_DUMP_COMPRESSION: process.env.PG_DUMP_COMPRESSION } : {}),
    };
    const onlyMatrix = flag("--only-matrix");

    // One age key pair for the encrypted cases (the private key is thrown away with the work dir).
    const keyFile = join(work, "age-key.txt");
    execFileSync("age-keygen", ["-o", keyFile], { stdio: "ignore" });
    const recipient = execFileSync("age-keygen", ["-y", keyFile]).toString().trim();
    const encrypted = { ENCRYPTION_RECIPIENTS: recipient };

    // --- backup: today, runner to file://, limit ---------------------------------------------
    const todayDir = join(work, "today");
    const runnerDir = join(work, "runner-file");
    const runnerAgeDir = join(work, "runner-file-age");
    const backupCases: Case[] = [
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
        after: async () => ({ output: 0, localDestinationPaged: 0 }),
      },
    ];
    // --only-matrix: the runner (its set feeds the later groups) and the limit only.
    const mainCases = onlyMatrix
      ? backupCases.filter((c) => c.name.startsWith("limit") || c.name === "runner → file://")
      : backupCases;
    log(`backup: ${runs} alternating runs of ${mainCases.length} approaches`);
    const backupResults = await alternate(mainCases, work);
    const rows = summarize("backup", backupResults);

    // Which compression did the runner use? (for the S3 shell pipeline and the restore)
    const sets = await readdir(join(runnerDir, "daily"));
    const setFiles = await readdir(join(runnerDir, "daily", sets[0]!));
    const mediaObject = setFiles.find((f) => f.startsWith("storage."))!;
    // database.dump (pg_dump's own compression) or database.dump.zst (PG_DUMP_COMPRESSION=zstd:N)
    const dumpObject = setFiles.find((f) => f.startsWith("database."))!;
    const dumpToStdout = dumpObject.endsWith(".zst")
      ? (f: string) => `zstd -q -d < "${f}"`
      : (f: string) => `cat "${f}"`;
    const compressProgram = mediaObject.endsWith(".gz")
      ? "gzip -1"
      : mediaObject.endsWith(".zst")
        ? "zstd -q -T0 -3"
        : "";
    const kept = join(work, "restore-source");
    await rm(kept, { recursive: true, force: true });
    await sh("bash", ["-c", `cp -r "${runnerDir}" "${kept}"`]);

    // --- S3 ------------------------------------------------------------------------------------
    if (moto && !onlyMatrix) {
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
      rows.push(...summarize("s3", await alternate(s3Cases, work)));
    }

    // --- restore -------------------------------------------------------------------------------
    if (!flag("--skip-restore") && !onlyMatrix) {
      const set = join(kept, "daily", (await readdir(join(kept, "daily")))[0]!);
      const target = join(work, "restored-media");
      const dropAll = async () => {
        await sh(
          join(binDir, "psql"),
          ["-X", "-q", "-d", "postgres", "-c", "DROP DATABASE IF EXISTS restored WITH (FORCE)"],
          baseEnv,
        );
        await sh("bash", ["-c", `rm -rf "${target}" "${work}"/.restored-media.edms-*`]);
      };
      const restoredPaged = async () => {
        const p = await pagedBytes(target);
        return { output: p.bytes, localDestinationPaged: p.paged };
      };
      const restoreCases: Case[] = [
        {
          name: "runner restore (file://)",
          script: `exec node "${RUNNER}" restore latest --yes --target-db restored --media-dir "${target}"`,
          env: { ...runnerEnv(`file://${kept}`), DATABASE_URL: cluster.url("postgres"), MEDIA_DIR: target },
          before: dropAll,
          after: restoredPaged,
        },
        {
          name: "pg_restore file & tar -x file",
          script:
            `createdb restored && { ${dumpToStdout(`${set}/${dumpObject}`)} | pg_restore --no-owner --exit-on-error -d restored & d=$!; ` +
            `mkdir -p "${target}" && tar -xf "${set}/${mediaObject}" -C "${target}"; t=$?; wait $d; exit $(( t | $? )); }`,
          env: baseEnv,
          before: dropAll,
          after: restoredPaged,
        },
        // pg_restore --jobs reads only files: the runner from its verified scratch copy (in the
        // measured command's scratch folder, so its bytes count as temporary bytes), the baseline
        // from a plain copy it decodes itself, both with the same jobs.
        {
          name: `runner restore --scratch-dir --jobs ${RESTORE_JOBS}`,
          script: `exec node "${RUNNER}" restore latest --yes --target-db restored --media-dir "${target}" --scratch-dir "$PWD" --jobs ${RESTORE_JOBS}`,
          env: { ...runnerEnv(`file://${kept}`), DATABASE_URL: cluster.url("postgres"), MEDIA_DIR: target },
          before: dropAll,
          after: restoredPaged,
        },
        {
          name: `pg_restore --jobs ${RESTORE_JOBS} file & tar -x file`,
          script:
            `createdb restored && { { ${dumpToStdout(`${set}/${dumpObject}`)} > plain.dump && pg_restore --no-owner --exit-on-error --jobs ${RESTORE_JOBS} -d restored plain.dump; } & d=$!; ` +
            `mkdir -p "${target}" && tar -xf "${set}/${mediaObject}" -C "${target}"; t=$?; wait $d; exit $(( t | $? )); }`,
          env: baseEnv,
          before: dropAll,
          after: restoredPaged,
        },
      ];
      log(`restore: ${runs} alternating runs of ${restoreCases.length} approaches`);
      rows.push(...summarize("restore", await alternate(restoreCases, work)));
      await dropAll();
    }

    // --- encryption: the two implementations on the runner's own objects ---------------------------
    if (!onlyMatrix) {
      const set = join(kept, "daily", (await readdir(join(kept, "daily")))[0]!);
      const objects = (await readdir(set)).filter((f) => f !== "manifest.json").map((f) => `"${join(set, f)}"`);
      const encryptCases: Case[] = [
        {
          name: "age binary (age -r … > /dev/null, each object)",
          script: objects.map((o) => `age -r ${recipient} ${o} > /dev/null`).join(" && "),
          env: baseEnv,
          after: async () => ({ output: 0, localDestinationPaged: 0 }),
        },
        {
          name: "age-encryption (npm, streaming, each object)",
          script: `exec node "${join(REPO, "bench", "age-js-encrypt.mjs")}" ${recipient} ${objects.join(" ")}`,
          env: baseEnv,
          after: async () => ({ output: 0, localDestinationPaged: 0 }),
        },
      ];
      log(`encryption: ${runs} alternating runs of ${encryptCases.length} implementations`);
      rows.push(...summarize("encrypt", await alternate(encryptCases, work)));
    }

    // --- compression matrix ----------------------------------------------------------------------
    const matrixRows: Row[] = [];
    const mediaStage: { name: string; seconds: number; outputMiB: number }[] = [];
    if (flag("--matrix")) {
      const options: [string, string][] = [
        ["gzip", "1"],
        ["gzip", "6"],
        ["zstd", "1"],
        ["zstd", "3"],
        ["zstd", "6"],
        ["none", "0"],
      ];
      const matrixCases: Case[] = options.map(([kind, level]) => {
        const dir = join(work, `matrix-${kind}-${level}`);
        return {
          name: `runner → file:// media ${kind}${kind === "none" ? "" : ` -${level}`}`,
          script: `exec node "${RUNNER}" backup --tier daily`,
          env: runnerEnv(`file://${dir}`, {
            MEDIA_COMPRESSION: kind,
            ...(kind === "none" ? {} : { MEDIA_COMPRESSION_LEVEL: level }),
          }),
          before: () => rm(dir, { recursive: true, force: true }),
          after: async () => {
            const p = await pagedBytes(dir);
            await rm(dir, { recursive: true, force: true });
            return { output: p.bytes, localDestinationPaged: p.paged };
          },
        };
      });
      log(`matrix: ${runs} alternating runs of ${matrixCases.length} media compression settings`);
      matrixRows.push(...summarize("matrix", await alternate(matrixCases, work)));
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
    }

    // --- start-up: node alone, and the bundle per command on an empty destination ------------------
    if (!onlyMatrix) {
      const empty = join(work, "empty-destination");
      await mkdir(empty, { recursive: true });
      const startEnv = runnerEnv(`file://${empty}`);
      const startCases: Case[] = [
        ["node -e 0 (Node itself)", `exec node -e 0`],
        ["runner --version", `exec node "${RUNNER}" --version`],
        ["runner list (empty file://)", `exec node "${RUNNER}" list`],
        ["runner status (empty file://)", `node "${RUNNER}" status; [ $? -le 1 ]`],
        ["runner backup --help", `exec node "${RUNNER}" backup --help`],
      ].map(([name, script]) => ({
        name: name!,
        script: script!,
        env: startEnv,
        after: async () => ({ output: 0, localDestinationPaged: 0 }),
      }));
      log(`start-up: ${Math.max(runs, 5)} alternating runs of ${startCases.length} commands`);
      rows.push(...summarize("start-up", await alternate(startCases, work, Math.max(runs, 5))));
    }

    // --- database compression matrix -------------------------------------------------------------
    const dumpStage: { name: string; seconds: number; outputMiB: number }[] = [];
    if (flag("--db-matrix")) {
      const specs = ["gzip:6", "gzip:1", "zstd:1", "zstd:3", "zstd:6", "none"];
      const limitCase = backupCases.find((c) => c.name.startsWith("limit"))!;
      const dbCases: Case[] = specs.map((spec) => {
        const dir = join(work, `dbmatrix-${spec.replace(":", "-")}`);
        return {
          name: `runner → file:// database ${spec}`,
          script: `exec node "${RUNNER}" backup --tier daily`,
          env: runnerEnv(`file://${dir}`, { ...defaultsEnv, PG_DUMP_COMPRESSION: spec }),
          before: () => rm(dir, { recursive: true, force: true }),
          after: async () => {
            const p = await pagedBytes(dir);
            await rm(dir, { recursive: true, force: true });
            return { output: p.bytes, localDestinationPaged: p.paged };
          },
        };
      });
      // The limit alternates with them, so each ratio compares runs under the same load.
      log(`db-matrix: ${runs} alternating runs of ${dbCases.length} dump compression specs and the limit`);
      matrixRows.push(...summarize("db-matrix", await alternate([limitCase, ...dbCases], work)));
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
    }

    // --- report ----------------------------------------------------------------------------------
    const byName = (g: string, n: string) => rows.find((r) => r.group === g && r.name.startsWith(n));
    const limit = byName("backup", "limit")!;
    const today = byName("backup", "today");
    const runnerFile = byName("backup", "runner")!;
    const ratios: Record<string, string> = {
      [`backup/${runnerFile.name}`]:
        `runner/limit ${(runnerFile.wallS / limit.wallS).toFixed(2)}` +
        (today ? `, runner/today ${(runnerFile.wallS / today.wallS).toFixed(2)}` : ""),
    };
    const runnerAge = byName("backup", "runner → file:// + age");
    if (runnerAge) ratios[`backup/${runnerAge.name}`] = `age/plain ${(runnerAge.wallS / runnerFile.wallS).toFixed(3)}`;
    const s3Age = byName("s3", "runner → s3:// (moto) + age");
    const rs3 = byName("s3", "runner");
    const shell = byName("s3", "shell");
    if (s3Age && rs3) ratios[`s3/${s3Age.name}`] = `age/plain ${(s3Age.wallS / rs3.wallS).toFixed(3)}`;
    if (rs3 && shell)
      ratios[`s3/${rs3.name}`] =
        `runner/shell ${(rs3.wallS / shell.wallS).toFixed(2)}, runner/limit ${(rs3.wallS / limit.wallS).toFixed(2)}`;
    const rr = byName("restore", "runner");
    const pr = byName("restore", "pg_restore");
    if (rr && pr) ratios[`restore/${rr.name}`] = `runner/baseline ${(rr.wallS / pr.wallS).toFixed(2)}`;
    const rj = byName("restore", "runner restore --scratch-dir");
    const pj = byName("restore", "pg_restore --jobs");
    if (rj && pj) ratios[`restore/${rj.name}`] = `runner/baseline ${(rj.wallS / pj.wallS).toFixed(2)}`;
    const dbLimit = matrixRows.find((m) => m.group === "db-matrix" && m.name.startsWith("limit"));
    for (const m of matrixRows) {
      const against = m.group === "db-matrix" ? dbLimit! : limit;
      if (m !== dbLimit) ratios[`${m.group}/${m.name}`] = `/limit ${(m.wallS / against.wallS).toFixed(2)}`;
    }

    const node = byName("start-up", "node -e 0");
    if (node)
      for (const r of rows.filter((x) => x.group === "start-up" && x !== node))
        ratios[`start-up/${r.name}`] = `+${((r.wallS - node.wallS) * 1000).toFixed(0)} ms over node -e 0`;
    const header =
      `size=${size}: database ${(dbBytes / MiB).toFixed(0)} MiB (pgbench -s ${spec.pgbenchScale} + ${spec.documents} documents), ` +
      `media ${media.files} files / ${(media.bytes / MiB).toFixed(0)} MiB; ${runs} alternating runs; ` +
      `${cpus().length} cores (${cpus()[0]?.model ?? "?"}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB; ${new Date().toISOString()}; ` +
      `load average (1/5/15 min) at start ${loadAtStart.map((l) => l.toFixed(1)).join("/")}, at end ${loadavg()
        .map((l) => l.toFixed(1))
        .join("/")}`;
    const text = [header, "", table([...rows, ...matrixRows], ratios)];
    if (mediaStage.length) {
      text.push(
        "",
        "| media stage alone: tar + compressor → wc -c | s | output MiB | ratio to source |",
        "|---|---:|---:|---:|",
      );
      for (const m of mediaStage)
        text.push(
          `| ${m.name} | ${m.seconds.toFixed(2)} | ${m.outputMiB.toFixed(1)} | ${(m.outputMiB / (media.bytes / MiB)).toFixed(3)} |`,
        );
    }
    // Issue 13's targets, one row each, with what this run measured.
    const verdict = (value: number | undefined, max: number, digits = 2) =>
      value === undefined || Number.isNaN(value)
        ? ["not measured", ""]
        : [value.toFixed(digits), value <= max ? "met" : "**missed**"];
    const targets: [string, string, number | undefined, number, number?][] = [
      ["backup to file://, wall time / (pg_dump -Fc ∥ tar \\| cat)", "≤ 1.0", runnerFile.wallS / limit.wallS, 1.0],
      ["backup to S3 (moto), wall time / shell pipelines", "≤ 1.0", rs3 && shell && rs3.wallS / shell.wallS, 1.0],
      [
        "restore (verified) / createdb + pg_restore ∥ tar -x (unverified)",
        "≤ 1.2",
        rr && pr && rr.wallS / pr.wallS,
        1.2,
      ],
      [
        `restore --scratch-dir --jobs ${RESTORE_JOBS} / pg_restore --jobs ${RESTORE_JOBS} of a file ∥ tar -x`,
        "≤ 1.2",
        rj && pj && rj.wallS / pj.wallS,
        1.2,
      ],
      ["peak RSS of the process tree, backup to file://, MiB", "≤ 200", runnerFile.peakRssMiB, 200, 0],
      ["peak RSS of the process tree, backup to S3, MiB", "≤ 200", rs3?.peakRssMiB, 200, 0],
      ["peak RSS of the process tree, restore, MiB", "≤ 200", rr?.peakRssMiB, 200, 0],
      // 0.1 MiB is the page rounding of the manifest and folders (see BENCHMARKS.md).
      ["temporary bytes, backup to file://, MiB", "0 (≤ 0.1 rounding)", runnerFile.tempMiB, 0.1, 1],
      ["temporary bytes, backup to S3, MiB", "0", rs3?.tempMiB, 0, 1],
    ];
    text.push("", "| target (issue 13) | goal | this run | verdict |", "|---|---|---:|---|");
    for (const [what, goal, value, max, digits] of targets) {
      const [shown, ok] = verdict(value, max, digits);
      text.push(`| ${what} | ${goal} | ${shown} | ${ok} |`);
    }
    if (dumpStage.length) {
      text.push("", "| dump stage alone: pg_dump (+ zstd) → wc -c | s | output MiB |", "|---|---:|---:|");
      for (const d of dumpStage) text.push(`| ${d.name} | ${d.seconds.toFixed(2)} | ${d.outputMiB.toFixed(1)} |`);
    }
    text.push("", `total bench wall time ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    process.stdout.write(text.join("\n") + "\n");
    await writeFile(
      join(benchRoot, size, "results.json"),
      JSON.stringify({ header, rows, matrixRows, mediaStage, dumpStage, ratios }, null, 2),
    );
    await rm(work, { recursive: true, force: true });
  } finally {
    await cleanup();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
