// The notifiers' pure parts (ping URLs, webhook payload, metric data) and the bounded retries.
import { describe, expect, it } from "vitest";
import type { Manifest } from "../../runner/src/catalog/manifest.js";
import { healthcheckPingUrl } from "../../runner/src/notify/healthcheck.js";
import { deliver, urlOrigin } from "../../runner/src/notify/http-delivery.js";
import { ageMetricData, runMetricData } from "../../runner/src/notify/metrics.js";
import { failureOutcome, successOutcome } from "../../runner/src/notify/outcome.js";
import { notifyTargetsFromEnv } from "../../runner/src/notify/run-reporter.js";
import { webhookPayload } from "../../runner/src/notify/webhook.js";
import { closedPortUrl, startReceiver } from "../helpers/notify-receiver.js";

const manifest: Manifest = {
  formatVersion: 2,
  backupId: "20260111T144748Z-3f9a",
  tier: "daily",
  trigger: "schedule",
  startedAt: "2026-01-11T14:47:48.000Z",
  finishedAt: "2026-01-11T14:49:03.500Z",
  runnerVersion: "0.1.0",
  database: {
    key: "database.dump",
    bytes: 1000,
    sha256: "a".repeat(64),
    format: "custom",
    name: "edms",
    pgDumpVersion: "16.4",
    serverVersion: "16.4",
    tableCount: 1,
    rowCount: 1,
    tables: [{ schema: "public", table: "t", rows: 1 }],
  },
  media: {
    key: "storage.tar.gz",
    bytes: 2048,
    sha256: "b".repeat(64),
    compression: "gzip",
    files: 3,
    sourceBytes: 4000,
  },
};

describe("healthcheck ping URLs", () => {
  it("appends /start and /fail to the path and keeps a query", () => {
    expect(healthcheckPingUrl("https://hc-ping.com/abc", "start")).toBe("https://hc-ping.com/abc/start");
    expect(healthcheckPingUrl("https://hc-ping.com/abc/", "fail")).toBe("https://hc-ping.com/abc/fail");
    expect(healthcheckPingUrl("https://hc-ping.com/abc", "success")).toBe("https://hc-ping.com/abc");
    expect(healthcheckPingUrl("https://hc.example/ping/key/edms-daily?create=1", "start")).toBe(
      "https://hc.example/ping/key/edms-daily/start?create=1",
    );
  });

  it("logs only the origin of a URL", () => {
    expect(urlOrigin("https://hooks.slack.com/services/T0/B0/secret?x=1")).toBe("https://hooks.slack.com");
    expect(urlOrigin("not a url")).toBe("(invalid URL)");
  });
});

describe("webhook payload", () => {
  it("carries tier, id, status, sizes and duration, and a Slack text", () => {
    expect(webhookPayload(successOutcome("edms", manifest, "s3://b/edms"))).toEqual({
      text: ":white_check_mark: edms daily backup 20260111T144748Z-3f9a succeeded: 3.0 KiB in 1m 16s",
      event: "backup",
      app: "edms",
      tier: "daily",
      backupId: "20260111T144748Z-3f9a",
      status: "success",
      startedAt: "2026-01-11T14:47:48.000Z",
      finishedAt: "2026-01-11T14:49:03.500Z",
      durationSeconds: 75.5,
      databaseBytes: 1000,
      mediaBytes: 2048,
      totalBytes: 3048,
      missingMediaFiles: null,
      referenceCheckNotRun: null,
      error: null,
      destination: "s3://b/edms",
    });
  });

  it("warns about referenced media files the backup lacks", () => {
    const checked: Manifest = {
      ...manifest,
      media: {
        ...manifest.media!,
        references: {
          columns: ["public.d.file"],
          referenced: 5,
          missing: 2,
          missingPaths: ["a", "b"],
          unreferenced: 0,
        },
      },
    };
    const payload = webhookPayload(successOutcome("edms", checked));
    expect(payload.missingMediaFiles).toBe(2);
    expect(payload.text).toBe(
      ":warning: edms daily backup 20260111T144748Z-3f9a succeeded: 3.0 KiB in 1m 16s; WARNING: 2 referenced media files are missing",
    );
    // The metric goes out whenever the check ran, zero included, so an alarm sees checked runs.
    const metric = (m: Manifest) =>
      runMetricData(successOutcome("edms", m)).find((d) => d.MetricName === "MissingMediaFiles")?.Value;
    expect(metric(checked)).toBe(2);
    expect(
      metric({
        ...checked,
        media: { ...checked.media!, references: { ...checked.media!.references!, missing: 0, missingPaths: [] } },
      }),
    ).toBe(0);
    expect(metric(manifest)).toBeUndefined();
  });

  it("carries the error of a failed run, with or without an id", () => {
    const started = new Date("2026-01-11T14:47:48Z");
    const failed = failureOutcome({
      app: "edms",
      tier: "weekly",
      started,
      finished: new Date(started.getTime() + 3000),
      error: "pg_dump exited with 1",
    });
    expect(webhookPayload(failed)).toMatchObject({
      status: "failure",
      backupId: null,
      totalBytes: null,
      error: "pg_dump exited with 1",
      durationSeconds: 3,
    });
    expect(webhookPayload(failed).text).toBe(":x: edms weekly backup FAILED after 3s: pg_dump exited with 1");
  });
});

describe("metric data", () => {
  it("a success: BackupSucceeded, BackupBytes and BackupDurationSeconds with App and Tier", () => {
    const data = runMetricData(successOutcome("edms", manifest));
    expect(data.map((d) => [d.MetricName, d.Value, d.Unit])).toEqual([
      ["BackupSucceeded", 1, "Count"],
      ["BackupBytes", 3048, "Bytes"],
      ["BackupDurationSeconds", 75.5, "Seconds"],
    ]);
    for (const d of data)
      expect(d.Dimensions).toEqual([
        { Name: "App", Value: "edms" },
        { Name: "Tier", Value: "daily" },
      ]);
  });

  it("a failure: one BackupFailed point; none when the tier is unknown", () => {
    const f = (tier?: string) =>
      failureOutcome({ app: "edms", tier, started: new Date(), finished: new Date(), error: "x" });
    expect(runMetricData(f("daily")).map((d) => d.MetricName)).toEqual(["BackupFailed"]);
    expect(runMetricData(f())).toEqual([]);
  });

  it("ages: one point per tier with a complete backup or waiting for its first run; none for a missing tier", () => {
    const at = new Date("2026-01-12T00:00:00Z");
    const data = ageMetricData(
      "edms",
      [
        { tier: "daily", state: "fresh", ageSeconds: 3600, maxAgeSeconds: 108_000, alarmAgeSeconds: 3600 },
        { tier: "weekly", state: "pending", maxAgeSeconds: 626_400, alarmAgeSeconds: 500_000 },
        { tier: "monthly", state: "missing", maxAgeSeconds: 2_700_000 },
      ],
      at,
    );
    const point = (tier: string, value: number) => ({
      MetricName: "NewestBackupAgeSeconds",
      Dimensions: [
        { Name: "App", Value: "edms" },
        { Name: "Tier", Value: tier },
      ],
      Timestamp: at,
      Value: value,
      Unit: "Seconds",
    });
    expect(data).toEqual([point("daily", 3600), point("weekly", 500_000)]);
  });
});

describe("notification settings", () => {
  it("takes valid values and drops invalid ones (the configuration error names them)", () => {
    expect(
      notifyTargetsFromEnv({
        HEALTHCHECK_URL: "https://hc-ping.com/x",
        NOTIFY_WEBHOOK_URL: "nope",
        CLOUDWATCH_NAMESPACE: "EDMS/Backup",
      }),
    ).toEqual({
      app: "edms",
      healthcheckUrl: "https://hc-ping.com/x",
      webhookUrl: undefined,
      cloudwatchNamespace: "EDMS/Backup",
    });
  });
});

describe("delivery", () => {
  it("retries a 503 and succeeds", async () => {
    const receiver = await startReceiver({ failFirst: 2 });
    try {
      const result = await deliver(`${receiver.url}/x`, { method: "GET" }, { backoffMs: 10 });
      expect(result).toEqual({ ok: true, attempts: 3, status: 200 });
      expect(receiver.requests).toHaveLength(1);
    } finally {
      await receiver.close();
    }
  });

  it("gives up after the tries, without throwing and without the URL's path in the problem", async () => {
    const down = await closedPortUrl();
    const result = await deliver(`${down}/secret-path`, { method: "POST", body: "{}" }, { backoffMs: 10, tries: 2 });
    expect(result.ok).toBe(false);
    expect(result.attempts).toBe(2);
    expect(result.problem).toMatch(/ECONNREFUSED|fetch failed/);
    expect(result.problem).not.toContain("secret-path");
  });

  it("does not retry a 404 (a wrong URL stays wrong)", async () => {
    const receiver = await startReceiver({ answer: 404 });
    try {
      expect(await deliver(`${receiver.url}/x`, { method: "GET" }, { backoffMs: 10 })).toEqual({
        ok: false,
        attempts: 1,
        status: 404,
        problem: "HTTP 404",
      });
    } finally {
      await receiver.close();
    }
  });
});
