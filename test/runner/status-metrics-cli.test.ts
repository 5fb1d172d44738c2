// `status --publish-metrics` on crafted backup sets: the age of each tier's newest complete backup
// lands in moto's CloudWatch as NewestBackupAgeSeconds {App, Tier}; a tier without a complete
// backup gets no data point (its alarm treats missing data as breaching).
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { GetMetricStatisticsCommand, ListMetricsCommand, type Metric } from "@aws-sdk/client-cloudwatch";
import { describe, expect, inject, it } from "vitest";
import { newBackupId } from "../../runner/src/catalog/backup-id.js";
import type { StatusReport } from "../../runner/src/commands/status.js";
import type { Tier } from "../../runner/src/contract.js";
import { serializeManifest } from "../../runner/src/catalog/manifest.js";
import { awsTestEnv } from "../helpers/moto.js";
import { testCloudWatch } from "../helpers/notify-receiver.js";
import { runRunner } from "../helpers/runner-cli.js";

const s3Endpoint = inject("s3Endpoint");
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

/** A set that started `ageMs` ago; with a valid manifest unless `complete` is false. */
async function writeSet(root: string, tier: Tier, ageMs: number, complete = true, suffix = "aaaa"): Promise<string> {
  const started = new Date(Date.now() - ageMs);
  const backupId = newBackupId(started, () => suffix);
  const dir = path.join(root, tier, backupId);
  await mkdir(dir, { recursive: true });
  const media = `archive of ${backupId}`;
  await writeFile(path.join(dir, "storage.tar.gz"), media);
  if (complete) {
    await writeFile(
      path.join(dir, "manifest.json"),
      serializeManifest({
        formatVersion: 2,
        backupId,
        tier,
        trigger: "schedule",
        startedAt: started.toISOString(),
        finishedAt: new Date(started.getTime() + 60_000).toISOString(),
        runnerVersion: "0.1.0",
        database: null,
        media: {
          key: "storage.tar.gz",
          bytes: Buffer.byteLength(media),
          sha256: sha256(media),
          compression: "gzip",
          files: 1,
          sourceBytes: 10,
        },
      }),
    );
  }
  return backupId;
}

describe("status --publish-metrics", () => {
  it("publishes each tier's newest complete backup age with the App and Tier dimensions", async () => {
    const root = await mkdtemp(path.join(tmpdir(), "edms-status-metrics-"));
    await writeSet(root, "daily", 30 * HOUR, true, "aaaa");
    await writeSet(root, "daily", 2 * HOUR, true, "bbbb");
    await writeSet(root, "daily", 1 * HOUR, false, "cccc"); // still running: does not count
    await writeSet(root, "weekly", 3 * DAY);
    // monthly: nothing at all
    const ns = `EdmsTest/${randomBytes(4).toString("hex")}`;
    const before = Date.now();
    const result = await runRunner(["status", "--publish-metrics", "--json"], {
      ...awsTestEnv(),
      BACKUP_DESTINATION: `file://${root}`,
      APP_NAME: "edms",
      CLOUDWATCH_NAMESPACE: ns,
      AWS_ENDPOINT_URL_CLOUDWATCH: s3Endpoint,
    });
    // Unhealthy (monthly is missing), but the ages were published first.
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/monthly has no complete backup/);
    const report = JSON.parse(result.stdout) as StatusReport;
    expect(report.published?.namespace).toBe(ns);
    expect(report.published?.metric).toBe("NewestBackupAgeSeconds");
    const ages = report.published!.ages;
    expect(Object.keys(ages).sort()).toEqual(["daily", "weekly"]);
    const slack = (Date.now() - before) / 1000 + 2;
    expect(Math.abs(ages.daily! - 2 * 3600)).toBeLessThan(slack);
    expect(Math.abs(ages.weekly! - 3 * 86_400)).toBeLessThan(slack);

    const cw = testCloudWatch(s3Endpoint);
    const listed = await cw.send(new ListMetricsCommand({ Namespace: ns }));
    const byTier: Record<string, Metric> = {};
    for (const m of listed.Metrics ?? []) byTier[m.Dimensions?.find((d) => d.Name === "Tier")?.Value ?? "?"] = m;
    expect(Object.keys(byTier).sort()).toEqual(["daily", "weekly"]);
    for (const [tier, metric] of Object.entries(byTier)) {
      expect(metric.MetricName).toBe("NewestBackupAgeSeconds");
      expect(Object.fromEntries((metric.Dimensions ?? []).map((d) => [d.Name, d.Value]))).toEqual({
        App: "edms",
        Tier: tier,
      });
      const stats = await cw.send(
        new GetMetricStatisticsCommand({
          Namespace: ns,
          MetricName: "NewestBackupAgeSeconds",
          Dimensions: metric.Dimensions,
          StartTime: new Date(Date.now() - HOUR),
          EndTime: new Date(Date.now() + HOUR),
          Period: 60,
          Statistics: ["Maximum"],
        }),
      );
      expect(stats.Datapoints?.map((d) => d.Maximum)).toEqual([ages[tier as Tier]]);
    }
  });

  it("needs CLOUDWATCH_NAMESPACE (exit 2) and reports an unreachable CloudWatch with exit 1", async () => {
    const root = await mkdtemp(path.join(tmpdir(), "edms-status-metrics-bad-"));
    const missing = await runRunner(["status", "--publish-metrics"], {
      ...awsTestEnv(),
      BACKUP_DESTINATION: `file://${root}`,
    });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("CLOUDWATCH_NAMESPACE: required with --publish-metrics");

    await writeSet(root, "daily", HOUR);
    const down = await runRunner(["status", "--publish-metrics"], {
      ...awsTestEnv(),
      BACKUP_DESTINATION: `file://${root}`,
      STATUS_TIERS: "daily",
      CLOUDWATCH_NAMESPACE: "EdmsTest/down",
      AWS_ENDPOINT_URL_CLOUDWATCH: "http://127.0.0.1:1",
      AWS_MAX_ATTEMPTS: "1",
    });
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/could not publish NewestBackupAgeSeconds to CloudWatch namespace EdmsTest\/down/);
  });
});
