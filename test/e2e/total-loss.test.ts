// RUNBOOK section 13, "Total loss", followed to the letter (issue 26, item 4): the fenced block
// that starts with `# total-loss procedure` is taken from docs/RUNBOOK.md and run with `sh` as
// printed, against what is left after a total loss: an S3 bucket (moto) holding an encrypted
// backup, the offline age key (the second recipient; the first key is thrown away), a NEW
// PostgreSQL cluster that has never seen the application, and an empty folder for the media.
// The outcome must equal the source: every table's rows, every media file's bytes and modes.
//
// What differs from a laptop, and only this: S3_ENDPOINT and static credentials point the AWS
// SDK at moto (the "principal that may read the bucket"), and PATH carries PostgreSQL's binaries.
import { readFile, mkdir, mkdtemp, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { newAgeKey } from "../helpers/age-key.js";
import { run } from "../helpers/exec.js";
import { startPgCluster, type PgCluster } from "../helpers/pg-cluster.js";
import { sql, tableChecksums } from "../helpers/pg-test-db.js";
import { runRunner } from "../helpers/runner-cli.js";
import { makeMediaTree, mediaTreeDigest, seedEdmsDatabase } from "../helpers/sample-data.js";
import { createTestBucket, type TestBucket } from "../helpers/s3-bucket.js";

const REPO_ROOT = path.resolve(__dirname, "../..");
const s3Endpoint = inject("s3Endpoint");

let work: string;
let media: string;
let bucket: TestBucket;
let fresh: PgCluster;
let old: PgCluster;
let sourceUrl: string;

/** The block of RUNBOOK.md that starts with `# total-loss procedure`. */
async function procedure(): Promise<string> {
  const runbook = await readFile(path.join(REPO_ROOT, "docs/RUNBOOK.md"), "utf8");
  const blocks = [...runbook.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const found = blocks.filter((b) => b.startsWith("# total-loss procedure\n"));
  if (found.length !== 1) throw new Error(`RUNBOOK.md has ${found.length} "# total-loss procedure" blocks`);
  return found[0]!;
}

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), "edms-total-loss-"));
  // What was backed up: the application's database, owned by its role `edms` as in a real
  // deployment (the old server is a cluster of its own, so the role name is free), and its media,
  // encrypted to two recipients.
  old = await startPgCluster({ dir: tmpdir() });
  await sql(old.url(), "create role edms login password 'old-app-password'");
  await sql(old.url(), "create database edms owner edms");
  sourceUrl = `postgres://edms:old-app-password@${old.host}:${old.port}/edms`;
  await seedEdmsDatabase(sourceUrl);
  media = path.join(work, "media");
  await makeMediaTree(media);
  const inCluster = await newAgeKey(work, "in-cluster");
  const offline = await newAgeKey(work, "offline");
  bucket = await createTestBucket(s3Endpoint);
  const backup = await runRunner(["backup", "--tier", "daily"], {
    ...bucket.env("edms"),
    DATABASE_URL: sourceUrl,
    MEDIA_DIR: media,
    ENCRYPTION_RECIPIENTS: `${inCluster.recipient},${offline.recipient}`,
    // The default (store) format: lost with the cluster too, and recovery never needs it.
    MEDIA_STORE_KEY: "total-loss-store-key-0123456789abcdef0123",
  });
  expect(backup.code, backup.stderr).toBe(0);
  // Lost with the cluster: the in-cluster key. Kept: the offline one, copied "from the safe".
  await run("rm", ["-f", inCluster.file]);
  await mkdir(path.join(work, "safe"));
  await run("cp", [offline.file, path.join(work, "safe", "edms-backup-age-offline.txt")]);
  fresh = await startPgCluster({ dir: tmpdir() });
});

afterAll(async () => {
  await fresh?.stop();
  await old?.stop();
});

describe("RUNBOOK section 13: total loss", () => {
  it("the printed procedure restores the database and the media on a new server and an empty folder", async () => {
    const script = await procedure();
    const target = path.join(work, "new-volume", "media");
    await mkdir(target, { recursive: true });
    const result = await run("sh", ["-c", script], {
      cwd: REPO_ROOT,
      timeoutMs: 300_000,
      env: {
        PATH: `${fresh.binDir}:${process.env.PATH}`,
        HOME: work,
        BUCKET: bucket.name,
        KEY: path.join(work, "safe", "edms-backup-age-offline.txt"),
        PGHOST: fresh.host,
        PGPORT: String(fresh.port),
        PGUSER: fresh.user,
        PGPASSWORD: fresh.password,
        APP_PASSWORD: "app-password-after-the-loss",
        MEDIA_TARGET: target,
        // The deviations of the header: moto as S3, and credentials for it.
        ...Object.fromEntries(Object.entries(bucket.env("edms")).filter(([k]) => k !== "BACKUP_DESTINATION")),
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
      },
    });
    expect(result.code, `${result.stdout.slice(-3000)}\n${result.stderr.slice(-3000)}`).toBe(0);
    // The database, owned by the application's role, equals the source.
    const restored = `postgres://edms:app-password-after-the-loss@${fresh.host}:${fresh.port}/edms`;
    expect(await tableChecksums(restored)).toEqual(await tableChecksums(sourceUrl));
    // The media, byte for byte, with modes and times.
    expect(await mediaTreeDigest(target)).toEqual(await mediaTreeDigest(media));
    expect((await readdir(target)).length).toBeGreaterThan(0);
  });
});
