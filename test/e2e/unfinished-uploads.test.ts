// Unfinished multipart uploads (issue 10 item 15): a backup SIGKILLed mid-upload leaves one that
// object listings do not show. `status --json` reports them (count, bytes, age), the human `list`
// and `status` print one line, `list --json` stays the array of sets, and the next backup run
// aborts those older than a day under its own prefix (as the bucket's lifecycle rule does on AWS),
// leaving younger ones, other prefixes and keys of other layouts alone. A store that refuses the
// sweep (403, or 501 from an S3-compatible store without the operation) gets a warning, never a
// failed backup.
//
// moto 5.2.1 reports every upload's `Initiated` as 2010-11-10T20:48:33Z (hard-coded in its
// ListMultipartUploads), so against moto every upload is years old by a real clock. The age rule is
// therefore tested in-process, with the backup's clock (BackupDeps.now) set around the initiation
// time moto reports; the built CLI is tested with the real clock, where moto's uploads are old.
import {
  CreateMultipartUploadCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  UploadPartCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { runBackup } from "../../runner/src/commands/backup.js";
import { loadBackupSettings } from "../../runner/src/settings/config.js";
import { createLogger } from "../../runner/src/output/logger.js";
import { S3Store } from "../../runner/src/store/s3-store.js";
import { refusingS3, type Refusal, type RefusingS3 } from "../helpers/refusing-s3.js";
import { freePort } from "../helpers/pg-cluster.js";
import { runRunner, startRunner } from "../helpers/runner-cli.js";
import { createTestBucket } from "../helpers/s3-bucket.js";

const s3Endpoint = inject("s3Endpoint");
const DAY_MS = 86_400_000;

let smallMedia: string;
let bigMedia: string;

beforeAll(async () => {
  smallMedia = await mkdtemp(path.join(tmpdir(), "edms-uploads-small-"));
  await writeFile(path.join(smallMedia, "a.txt"), "a small media folder\n");
  // Incompressible and big enough that, sent one 5 MiB part at a time, the upload is caught mid-way.
  bigMedia = await mkdtemp(path.join(tmpdir(), "edms-uploads-big-"));
  await mkdir(path.join(bigMedia, "scans"));
  const chunks = Array.from({ length: 60 }, () => randomBytes(1 << 20));
  await writeFile(path.join(bigMedia, "scans/big.bin"), Buffer.concat(chunks));
});

interface StoredUpload {
  key: string;
  uploadId: string;
  initiated: Date;
  bytes: number;
}

/** What the store itself says: every unfinished upload in the bucket, with its parts' bytes. */
async function storedUploads(client: S3Client, bucket: string): Promise<StoredUpload[]> {
  const out: StoredUpload[] = [];
  const listed = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  for (const u of listed.Uploads ?? []) {
    const parts = await client.send(new ListPartsCommand({ Bucket: bucket, Key: u.Key!, UploadId: u.UploadId! }));
    const bytes = (parts.Parts ?? []).reduce((sum, p) => sum + (p.Size ?? 0), 0);
    out.push({ key: u.Key!, uploadId: u.UploadId!, initiated: u.Initiated!, bytes });
  }
  return out.sort((a, b) => (a.key < b.key ? -1 : 1));
}

/** A real unfinished upload: started, parts of these sizes stored, never completed. */
async function unfinishedUpload(client: S3Client, bucket: string, key: string, parts: number[]): Promise<void> {
  const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
  for (const [i, size] of parts.entries()) {
    await client.send(
      new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: i + 1, Body: randomBytes(size) }),
    );
  }
}

const uploadLines = (text: string) => text.split("\n").filter((l) => /unfinished multipart upload/.test(l));

describe("unfinished multipart uploads", () => {
  it("a SIGKILLed backup's upload: status --json counts it, list and status print one line, list --json is unchanged, the next backup aborts only it", async () => {
    const bucket = await createTestBucket(s3Endpoint);
    // The tar format: the media is one stream, so the kill lands inside one multipart upload.
    const env = { ...bucket.env("edms"), STATUS_TIERS: "daily", MEDIA_FORMAT: "tar" };
    const first = await runRunner(["backup", "--tier", "daily", "--no-database", "--media-dir", smallMedia], env);
    expect(first.code, first.stderr).toBe(0);
    const listBefore = await runRunner(["list", "--json"], env);
    expect(listBefore.code, listBefore.stderr).toBe(0);

    // The real thing: a backup killed with SIGKILL (no handler runs) once parts are stored.
    const runner = await startRunner(["backup", "--tier", "daily", "--no-database"], {
      ...env,
      MEDIA_DIR: bigMedia,
      MEDIA_COMPRESSION: "none",
      S3_PART_SIZE_MIB: "5",
      S3_QUEUE_SIZE: "1",
    });
    let exited = false;
    void runner.result.then(() => (exited = true));
    for (let i = 0; i < 2_000 && !exited; i++) {
      const uploads = await storedUploads(bucket.client, bucket.name);
      if (uploads.some((u) => u.bytes > 0)) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    runner.child.kill("SIGKILL");
    const killed = await runner.result;
    expect(killed.signal, `the backup finished before it could be killed: ${killed.stderr}`).toBe("SIGKILL");

    // Uploads that are not this destination's: another prefix, and a key of another layout under it.
    await unfinishedUpload(bucket.client, bucket.name, "other/daily/20260101T000000Z-0000/database.dump", [1234]);
    await unfinishedUpload(bucket.client, bucket.name, "edms/notes/draft.bin", [99]);
    const before = await storedUploads(bucket.client, bucket.name);
    const left = before.filter((u) => u.key.startsWith("edms/daily/"));
    expect(left).toHaveLength(1);
    expect(left[0]!.bytes).toBeGreaterThan(0);
    expect(left[0]!.bytes % (5 << 20)).toBe(0);

    const status = await runRunner(["status", "--json"], env);
    expect(status.code, status.stderr).toBe(0); // reported, never judged: daily is fresh
    const report = JSON.parse(status.stdout) as Record<string, unknown>;
    const expectedAge = (Date.now() - left[0]!.initiated.getTime()) / 1000;
    expect(report.unfinishedUploads).toEqual({
      count: 1,
      bytes: left[0]!.bytes,
      oldestAgeSeconds: expect.any(Number),
    });
    const { oldestAgeSeconds } = report.unfinishedUploads as { oldestAgeSeconds: number };
    expect(Math.abs(oldestAgeSeconds - expectedAge)).toBeLessThan(30);
    expect(report).not.toHaveProperty("unfinishedUploadsProblem");

    for (const args of [["status"], ["list"]]) {
      const human = await runRunner(args, env);
      expect(human.code, human.stderr).toBe(0);
      expect(uploadLines(human.stdout), human.stdout).toEqual([
        expect.stringMatching(
          /^WARNING: 1 unfinished multipart upload \(runs killed mid-upload\) under s3:\/\/\S+\/edms hold \d+\.\d MiB, the oldest started \d+d \d\dh ago; the next backup aborts those older than 1 day \(docs\/RUNBOOK\.md\)$/,
        ),
      ]);
    }
    const listAfter = await runRunner(["list", "--json"], env);
    expect(listAfter.code, listAfter.stderr).toBe(0);
    expect(JSON.parse(listAfter.stdout)).toEqual(JSON.parse(listBefore.stdout));
    expect(Array.isArray(JSON.parse(listAfter.stdout))).toBe(true);

    // The exporter serves the same count and the parts' bytes as the store lists them (issue 25).
    const port = await freePort();
    const exporter = await startRunner(["exporter", "--listen", `127.0.0.1:${port}`, "--refresh-seconds", "1"], env);
    try {
      await exporter.waitForLog((l) => l.stage === "exporter" && typeof l.listen === "string");
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(metrics).toMatch(/^edms_backup_unfinished_uploads 1$/m);
      expect(metrics).toMatch(new RegExp(`^edms_backup_unfinished_upload_bytes ${left[0]!.bytes}$`, "m"));
      expect(metrics).toMatch(/^edms_backup_exporter_scrape_errors_total\{source="unfinished_uploads"\} 0$/m);
    } finally {
      exporter.child.kill("SIGTERM");
      await exporter.result;
    }

    const next = await runRunner(["backup", "--tier", "daily", "--no-database", "--media-dir", smallMedia], env);
    expect(next.code, next.stderr).toBe(0);
    expect(next.logs.find((l) => l.stage === "sweep" && l.level === "info")).toMatchObject({
      aborted: 1,
      keys: [left[0]!.key.slice("edms/".length)],
    });
    expect((await storedUploads(bucket.client, bucket.name)).map((u) => u.key)).toEqual([
      "edms/notes/draft.bin",
      "other/daily/20260101T000000Z-0000/database.dump",
    ]);

    const clean = await runRunner(["status", "--json"], env);
    expect(JSON.parse(clean.stdout).unfinishedUploads).toEqual({ count: 0, bytes: 0, oldestAgeSeconds: null });
    const cleanHuman = await runRunner(["status"], env);
    expect(uploadLines(cleanHuman.stdout)).toEqual([]);
  }, 120_000);

  it("the next run aborts only uploads older than a day by its clock; younger ones stay", async () => {
    const bucket = await createTestBucket(s3Endpoint);
    await unfinishedUpload(bucket.client, bucket.name, "edms/weekly/20260101T020000Z-77aa/storage.tar.zst", [4096]);
    const [upload] = await storedUploads(bucket.client, bucket.name);
    const initiated = upload!.initiated.getTime();
    const settings = loadBackupSettings({
      processEnv: {},
      overrides: {
        BACKUP_DESTINATION: `s3://${bucket.name}/edms`,
        S3_ENDPOINT: s3Endpoint,
        BACKUP_TIER: "daily",
        BACKUP_DATABASE: "false",
        MEDIA_DIR: smallMedia,
        LOG_LEVEL: "info",
      },
      isTty: false,
    });
    const lines: Array<Record<string, unknown>> = [];
    const log = createLogger({
      format: "json",
      level: "info",
      destination: new Writable({
        write: (chunk: Buffer, _e, cb) => {
          for (const l of chunk.toString().split("\n").filter(Boolean))
            lines.push(JSON.parse(l) as Record<string, unknown>);
          cb();
        },
      }),
    });
    const store = new S3Store({ bucket: bucket.name, prefix: "edms" }, bucket.client);
    const backupAt = async (ms: number) => {
      lines.length = 0;
      await runBackup(settings, { store, log, now: () => new Date(ms) });
      return (await storedUploads(bucket.client, bucket.name)).map((u) => u.key);
    };

    // A day to the second is not older than a day: a live upload is never that old.
    expect(await backupAt(initiated + DAY_MS - 60_000)).toEqual([upload!.key]);
    expect(await backupAt(initiated + DAY_MS)).toEqual([upload!.key]);
    expect(lines.filter((l) => l.stage === "sweep")).toEqual([]);
    expect(await backupAt(initiated + DAY_MS + 2_000)).toEqual([]);
    expect(lines.find((l) => l.stage === "sweep")).toMatchObject({ aborted: 1, keys: [upload!.key.slice(5)] });
  }, 60_000);
});

describe("a store that refuses the sweep", () => {
  const OLD_KEY = "edms/daily/20260101T000000Z-dead/database.dump";
  let proxies: RefusingS3[] = [];

  afterAll(async () => {
    await Promise.all(proxies.map((p) => p.close()));
  });

  /** A bucket holding one abandoned upload, reached through a proxy that refuses `refusal`. */
  async function refusingBucket(refusal: Refusal) {
    const bucket = await createTestBucket(s3Endpoint);
    await unfinishedUpload(bucket.client, bucket.name, OLD_KEY, [777]);
    const proxy = await refusingS3(s3Endpoint, [refusal]);
    proxies.push(proxy);
    return { bucket, proxy, env: { ...bucket.env("edms"), S3_ENDPOINT: proxy.endpoint, STATUS_TIERS: "daily" } };
  }

  for (const [status, code] of [
    [403, "AccessDenied"],
    [501, "NotImplemented"],
  ] as const) {
    it(`a listing answered ${status} ${code}: the backup succeeds with one warning; status reports the problem`, async () => {
      const { bucket, proxy, env } = await refusingBucket({ operation: "ListMultipartUploads", status });
      const run = await runRunner(["backup", "--tier", "daily", "--no-database", "--media-dir", smallMedia], env);
      expect(run.code, run.stderr).toBe(0);
      expect(proxy.refused).toContain("ListMultipartUploads");
      const sweep = run.logs.filter((l) => l.stage === "sweep");
      expect(sweep).toEqual([expect.objectContaining({ level: "warn", error: expect.stringContaining(code) })]);
      expect(String(sweep[0]!.msg)).toMatch(/could not look for unfinished multipart uploads older than 1 day/);
      expect((await storedUploads(bucket.client, bucket.name)).map((u) => u.key)).toEqual([OLD_KEY]);

      const json = await runRunner(["status", "--json"], env);
      expect(json.code, json.stderr).toBe(0);
      const report = JSON.parse(json.stdout) as Record<string, unknown>;
      expect(report).not.toHaveProperty("unfinishedUploads");
      expect(report.unfinishedUploadsProblem).toMatch(
        new RegExp(`^could not look for unfinished multipart uploads: .*${code}`),
      );
      for (const args of [["status"], ["list"]]) {
        const human = await runRunner(args, env);
        expect(human.code, human.stderr).toBe(0);
        expect(uploadLines(human.stdout), human.stdout).toEqual([
          expect.stringMatching(/^WARNING: could not look for unfinished multipart uploads: /),
        ]);
      }
    }, 60_000);
  }

  it("an abort answered 403 AccessDenied: the backup succeeds with one warning naming what was left", async () => {
    const { bucket, proxy, env } = await refusingBucket({ operation: "AbortMultipartUpload", status: 403 });
    const run = await runRunner(["backup", "--tier", "daily", "--no-database", "--media-dir", smallMedia], env);
    expect(run.code, run.stderr).toBe(0);
    expect(proxy.refused).toEqual(["AbortMultipartUpload"]);
    const sweep = run.logs.filter((l) => l.stage === "sweep");
    expect(sweep).toEqual([
      expect.objectContaining({ level: "warn", failed: 1, error: expect.stringMatching(/AccessDenied.*IAM policy/) }),
    ]);
    expect(String(sweep[0]!.msg)).toMatch(/could not abort 1 of 1 unfinished multipart upload/);
    expect((await storedUploads(bucket.client, bucket.name)).map((u) => u.key)).toEqual([OLD_KEY]);
  }, 60_000);
});
