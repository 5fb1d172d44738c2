// Every way a backup can break mid-run must end the same way: a non-zero exit, one message, no
// manifest (nothing that looks complete) and no unfinished multipart upload left in the bucket.
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { run } from "../helpers/exec.js";
import { connectionUrl } from "../helpers/pg-cluster.js";
import { createTestDatabase, sql, type TestDatabase } from "../helpers/pg-test-db.js";
import { startRunner, runRunner, type RunningRunner } from "../helpers/runner-cli.js";
import { createTestBucket, type TestBucket } from "../helpers/s3-bucket.js";
import { makeMediaTree } from "../helpers/sample-data.js";

const pg = inject("pg");
const s3Endpoint = inject("s3Endpoint");

let big: TestDatabase;
let mediaDir: string;

beforeAll(async () => {
  big = await createTestDatabase(pg, "faults");
  // ~150 MB uncompressed: long enough to interrupt mid-stream on any machine.
  const init = await run(path.join(pg.binDir, "pgbench"), ["-i", "-s", "10", "-q", big.name], {
    env: { ...process.env, ...big.env },
  });
  if (init.code !== 0) throw new Error(`pgbench -i failed: ${init.stderr}`);
  mediaDir = await mkdtemp(path.join(tmpdir(), "edms-media-"));
  await makeMediaTree(mediaDir);
});

afterAll(async () => {
  await big.drop();
});

/** Settings that make the database stream big and slow enough to interrupt. */
function slowBackupEnv(bucket: TestBucket): Record<string, string> {
  return {
    ...bucket.env(),
    DATABASE_URL: big.url,
    MEDIA_DIR: mediaDir,
    PG_DUMP_COMPRESSION: "0",
    S3_PART_SIZE_MIB: "5",
    PROGRESS_INTERVAL_SECONDS: "1",
  };
}

/** Waits until the dump's multipart upload exists: bytes are flowing into the bucket. */
async function untilDumpIsUploading(bucket: TestBucket, runner: RunningRunner): Promise<void> {
  let exited = false;
  void runner.result.then(() => (exited = true));
  for (let i = 0; i < 600 && !exited; i++) {
    if ((await bucket.unfinishedUploads()).some((k) => k.endsWith("database.dump"))) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  const r = await runner.result;
  throw new Error(`the dump never started uploading (runner exited ${r.code}): ${r.stderr}`);
}

/**
 * The pid of the runner's own child `name` (pg_dump, or the dump's zstd; the media's zstd is tar's
 * child) once it has written 64 KiB (`wchar` in /proc/<pid>/io): it is mid-stream.
 */
async function midStream(runner: RunningRunner, name: string): Promise<number> {
  for (let i = 0; i < 3000; i++) {
    const found = await run("pgrep", ["-P", String(runner.child.pid), "-x", name]);
    const pid = Number(found.stdout.trim().split("\n")[0]);
    if (pid > 0) {
      const io = await readFile(`/proc/${pid}/io`, "utf8").catch(() => "");
      // More than a version line (the runner runs `pg_dump --version` first): the stream itself.
      if (Number(/^wchar: (\d+)$/m.exec(io)?.[1] ?? 0) > 65_536) return pid;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  const r = await runner.result;
  throw new Error(`${name} never wrote a byte while the runner ran (runner exited ${r.code}): ${r.stderr}`);
}

async function expectNothingComplete(bucket: TestBucket): Promise<void> {
  const keys = await bucket.keys();
  expect(keys.filter((k) => k.endsWith("manifest.json"))).toEqual([]);
  expect(keys.filter((k) => k.endsWith("database.dump"))).toEqual([]);
  expect(await bucket.unfinishedUploads()).toEqual([]);
}

describe("backup faults", () => {
  it("pg_dump losing its server connection mid-stream fails the run", async () => {
    const bucket = await createTestBucket(s3Endpoint);
    const runner = await startRunner(["backup", "--tier", "daily"], slowBackupEnv(bucket));
    await untilDumpIsUploading(bucket, runner);
    const killed = await sql(
      connectionUrl(pg, "postgres"),
      "select pg_terminate_backend(pid) as ok from pg_stat_activity where application_name = 'pg_dump' and datname = $1",
      [big.name],
    );
    expect(killed.length).toBeGreaterThan(0);
    const result = await runner.result;
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/pg_dump exited with code 1/);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    await expectNothingComplete(bucket);
  });

  it("pg_dump killed mid-stream fails the run", async () => {
    const bucket = await createTestBucket(s3Endpoint);
    const runner = await startRunner(["backup", "--tier", "daily"], slowBackupEnv(bucket));
    await untilDumpIsUploading(bucket, runner);
    const found = await run("pgrep", ["-P", String(runner.child.pid), "-x", "pg_dump"]);
    const pid = Number(found.stdout.trim().split("\n")[0]);
    expect(pid).toBeGreaterThan(0);
    process.kill(pid, "SIGKILL");
    const result = await runner.result;
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/pg_dump was killed by SIGKILL/);
    await expectNothingComplete(bucket);
  });

  for (const victim of ["pg_dump", "zstd"] as const)
    it(`with PG_DUMP_COMPRESSION=zstd:1, ${victim} killed mid-stream fails the run`, async () => {
      const bucket = await createTestBucket(s3Endpoint);
      const runner = await startRunner(["backup", "--tier", "daily"], {
        ...slowBackupEnv(bucket),
        PG_DUMP_COMPRESSION: "zstd:1",
      });
      // Killed once it has written its first 64 KiB: pgbench's rows compress ~40x, so the whole
      // compressed dump fits in the runner's part buffers and pg_dump can be done before the
      // first progress line (which is how this test once flaked).
      process.kill(await midStream(runner, victim), "SIGKILL");
      const result = await runner.result;
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(
        victim === "zstd" ? /zstd \(database dump\) was killed by SIGKILL/ : /pg_dump was killed by SIGKILL/,
      );
      expect(result.stderr.trim().split("\n")).toHaveLength(1);
      await expectNothingComplete(bucket);
      expect((await bucket.keys()).filter((k) => k.includes("database.dump"))).toEqual([]);
    });

  it("SIGTERM mid-backup stops the children, aborts the uploads and exits 143", async () => {
    const bucket = await createTestBucket(s3Endpoint);
    const runner = await startRunner(["backup", "--tier", "daily"], slowBackupEnv(bucket));
    await untilDumpIsUploading(bucket, runner);
    // Long streams report progress (here every second): bytes so far and the rate.
    const progress = await runner.waitForLog(
      (l) => l.msg === "progress" && l.stage === "database" && Number(l.bytes) > 0,
    );
    expect(progress).toMatchObject({ tier: "daily", backupId: expect.stringMatching(/^\d{8}T\d{6}Z-/) });
    expect(Number(progress.rate)).toBeGreaterThan(0);
    runner.child.kill("SIGTERM");
    const result = await runner.result;
    expect(result.code).toBe(143);
    expect(result.stderr).toMatch(/interrupted by SIGTERM/);
    await expectNothingComplete(bucket);
    // No orphaned tar or pg_dump keeps running after the runner is gone (scoped to this test's
    // media folder and database: other test files run backups at the same time).
    const orphans = await run("pgrep", ["-f", `--directory=${mediaDir}`]);
    expect(orphans.stdout.trim()).toBe("");
    let dumps = 1;
    for (let i = 0; i < 40 && dumps > 0; i++) {
      const rows = await sql<{ n: string }>(
        connectionUrl(pg, "postgres"),
        "select count(*)::text as n from pg_stat_activity where application_name = 'pg_dump' and datname = $1",
        [big.name],
      );
      dumps = Number(rows[0]!.n);
      if (dumps > 0) await new Promise((r) => setTimeout(r, 50));
    }
    expect(dumps).toBe(0);
  });

  it("an unreachable S3 endpoint fails before anything is dumped", async () => {
    const result = await runRunner(["backup", "--tier", "daily"], {
      BACKUP_DESTINATION: "s3://unreachable-bucket/edms",
      S3_ENDPOINT: "http://127.0.0.1:1",
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "test",
      AWS_REGION: "us-east-1",
      DATABASE_URL: big.url,
      MEDIA_DIR: mediaDir,
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/S3.*(ECONNREFUSED|unreachable|connect)/i);
    expect(result.stderr).not.toContain(pg.password);
  });

  it("a wrong database password fails with a clear message and never prints the password", async () => {
    const bucket = await createTestBucket(s3Endpoint);
    const wrong = "not-the-password-4711";
    const result = await runRunner(["backup", "--tier", "daily"], {
      ...bucket.env(),
      DATABASE_URL: `postgres://${pg.user}:${wrong}@${pg.host}:${pg.port}/${big.name}`,
      MEDIA_DIR: mediaDir,
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/could not connect to the database .*password authentication failed/);
    expect(result.stderr + result.stdout).not.toContain(wrong);
    expect(await bucket.keys()).toEqual([]);
  });

  it("a missing media folder is bad input: exit 2, nothing stored", async () => {
    const bucket = await createTestBucket(s3Endpoint);
    const result = await runRunner(["backup", "--tier", "daily"], {
      ...bucket.env(),
      DATABASE_URL: big.url,
      MEDIA_DIR: "/nonexistent/media",
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/MEDIA_DIR \(--media-dir\): \/nonexistent\/media does not exist/);
    expect(await bucket.keys()).toEqual([]);
  });
});
