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
import { execFileSync } from "node:child_process";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, totalmem } from "node:os";
import { join } from "node:path";
import { startPgCluster, type PgCluster } from "../test/helpers/pg-cluster.js";
import { awsTestEnv, startMoto, type Moto } from "../test/helpers/moto.js";
import { SPECS, createDatabase, ensureMedia } from "./dataset.js";
import { MiB, REPO, flag, log, runs, size, type BenchContext, type Row } from "./harness.js";
import { backupGroup, s3Group } from "./backup-groups.js";
import { encryptionGroup, restoreGroup, startupGroup } from "./restore-groups.js";
import { dbMatrixGroup, mediaMatrixGroup, type StageRow } from "./matrix-groups.js";
import { ratiosOf, reportText } from "./report.js";

/** The runner's environment for a destination: the bench database and media folder, JSON logs at warn. */
function runnerEnvOf(baseEnv: NodeJS.ProcessEnv, cluster: PgCluster, mediaDir: string) {
  const binDir = cluster.binDir;
  return (destination: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
    ...baseEnv,
    DATABASE_URL: cluster.url("bench"),
    MEDIA_DIR: mediaDir,
    BACKUP_DESTINATION: destination,
    LOG_FORMAT: "json",
    LOG_LEVEL: "warn",
    PG_BIN_DIR: binDir,
    // These rows are the tar format beside today's script and the limit (tar too); the store is
    // `npm run bench:store`'s (bench/media-store.ts). MEDIA_FORMAT=store here measures it anyway.
    MEDIA_FORMAT: process.env.MEDIA_FORMAT ?? "tar",
    ...extra,
  });
}

/** The context every group shares: the database created, the environments, an age key. */
async function prepare(
  work: string,
  media: BenchContext["media"],
  cluster: PgCluster,
): Promise<{ ctx: BenchContext; dbBytes: number }> {
  const spec = SPECS[size];
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
  const runnerEnv = runnerEnvOf(baseEnv, cluster, media.dir);
  const ctx = { work, media, cluster, binDir, baseEnv, runnerEnv, defaultsEnv, recipient, encrypted, onlyMatrix };
  return { ctx, dbBytes };
}

/** Every measured group, in the order they run (each alternates its own cases). */
async function measureGroups(ctx: BenchContext, moto: Moto | undefined) {
  const { onlyMatrix } = ctx;
  const backup = await backupGroup(ctx);
  const rows: Row[] = [...backup.rows];
  if (moto && !onlyMatrix) rows.push(...(await s3Group(ctx, moto, backup.set)));
  if (!flag("--skip-restore") && !onlyMatrix) rows.push(...(await restoreGroup(ctx, backup.set)));
  if (!onlyMatrix) rows.push(...(await encryptionGroup(ctx, backup.set.kept)));
  const matrixRows: Row[] = [];
  let mediaStage: StageRow[] = [];
  if (flag("--matrix")) {
    const matrix = await mediaMatrixGroup(ctx);
    matrixRows.push(...matrix.rows);
    mediaStage = matrix.mediaStage;
  }
  if (!onlyMatrix) rows.push(...(await startupGroup(ctx)));
  let dumpStage: StageRow[] = [];
  if (flag("--db-matrix")) {
    const dbMatrix = await dbMatrixGroup(ctx, backup.limitCase);
    matrixRows.push(...dbMatrix.rows);
    dumpStage = dbMatrix.dumpStage;
  }
  return { rows, matrixRows, mediaStage, dumpStage };
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
    const { ctx, dbBytes } = await prepare(work, media, cluster);
    const { rows, matrixRows, mediaStage, dumpStage } = await measureGroups(ctx, moto);
    const ratios = ratiosOf(rows, matrixRows);
    const header =
      `size=${size}: database ${(dbBytes / MiB).toFixed(0)} MiB (pgbench -s ${spec.pgbenchScale} + ${spec.documents} documents), ` +
      `media ${media.files} files / ${(media.bytes / MiB).toFixed(0)} MiB; ${runs} alternating runs; ` +
      `${cpus().length} cores (${cpus()[0]?.model ?? "?"}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB; ${new Date().toISOString()}; ` +
      `load average (1/5/15 min) at start ${loadAtStart.map((l) => l.toFixed(1)).join("/")}, at end ${loadavg()
        .map((l) => l.toFixed(1))
        .join("/")}`;
    const text = reportText({ header, rows, matrixRows, mediaStage, dumpStage, mediaBytes: media.bytes }, ratios);
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
