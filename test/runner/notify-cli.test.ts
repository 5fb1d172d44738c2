// Notifications as a CronJob triggers them: the bundled runner does a real backup (a small media
// folder to a file:// destination) and a local HTTP server receives the healthcheck pings and the
// webhook, in order; CloudWatch is moto's. A notification that cannot be delivered never changes
// the run's own exit code.
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { GetMetricStatisticsCommand, ListMetricsCommand } from "@aws-sdk/client-cloudwatch";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { WebhookPayload } from "../../runner/src/notify/webhook.js";
import { awsTestEnv } from "../helpers/moto.js";
import { closedPortUrl, startReceiver, testCloudWatch, type Receiver } from "../helpers/notify-receiver.js";
import { runRunner } from "../helpers/runner-cli.js";

const s3Endpoint = inject("s3Endpoint");
const CHECK = "5b1f0d9a-4a6b-4e3f-9c0d-2a4b6c8e0f11";
const HOOK_TOKEN = "T000/B000/hooksecret";

let receiver: Receiver;
let media: string;
beforeAll(async () => {
  receiver = await startReceiver();
  media = await mkdtemp(path.join(tmpdir(), "edms-notify-media-"));
  await mkdir(path.join(media, "docs"));
  await writeFile(path.join(media, "docs", "a.txt"), "hello\n".repeat(1000));
  await writeFile(path.join(media, "b.bin"), randomBytes(4096));
});
afterAll(async () => {
  await receiver.close();
});

function env(extra: Record<string, string>): Record<string, string> {
  return {
    ...awsTestEnv(),
    APP_NAME: "edms",
    MEDIA_DIR: media,
    BACKUP_DATABASE: "false",
    AWS_ENDPOINT_URL_CLOUDWATCH: s3Endpoint,
    ...extra,
  };
}

const namespace = () => `EdmsTest/${randomBytes(4).toString("hex")}`;

/** Requests for this test only (the receiver is shared): by path prefix. */
function requestsUnder(prefix: string) {
  return receiver.requests.filter((r) => r.path.startsWith(prefix));
}

describe("backup notifications", () => {
  it("pings start then success, posts the result, and publishes metrics with the app and tier dimensions", async () => {
    const root = await mkdtemp(path.join(tmpdir(), "edms-notify-ok-"));
    const ns = namespace();
    const tag = randomBytes(3).toString("hex");
    const result = await runRunner(
      ["backup", "--tier", "daily"],
      env({
        BACKUP_DESTINATION: `file://${root}`,
        HEALTHCHECK_URL: `${receiver.url}/${tag}/ping/${CHECK}`,
        NOTIFY_WEBHOOK_URL: `${receiver.url}/${tag}/hook/${HOOK_TOKEN}?token=qsecret`,
        CLOUDWATCH_NAMESPACE: ns,
      }),
    );
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const [backupId] = await readdir(path.join(root, "daily"));

    const got = requestsUnder(`/${tag}/`);
    expect(got[0]).toMatchObject({ method: "GET", path: `/${tag}/ping/${CHECK}/start` });
    expect(
      got
        .slice(1)
        .map((r) => `${r.method} ${r.path}`)
        .sort(),
    ).toEqual([`GET /${tag}/ping/${CHECK}`, `POST /${tag}/hook/${HOOK_TOKEN}?token=qsecret`]);
    const payload = JSON.parse(got.find((r) => r.method === "POST")!.body) as WebhookPayload;
    expect(payload).toMatchObject({
      event: "backup",
      app: "edms",
      tier: "daily",
      backupId,
      status: "success",
      databaseBytes: null,
      error: null,
    });
    expect(payload.mediaBytes).toBeGreaterThan(0);
    expect(payload.totalBytes).toBe(payload.mediaBytes);
    expect(payload.durationSeconds).toBeGreaterThanOrEqual(0);
    expect(payload.text).toMatch(
      new RegExp(`^:white_check_mark: edms daily backup ${backupId} succeeded: .+ in \\d+s$`),
    );
    // The check's UUID and the webhook's tokens are credentials: never in the logs.
    expect(result.stdout).not.toContain(CHECK);
    expect(result.stdout).not.toContain("hooksecret");
    expect(result.stdout).not.toContain("qsecret");

    const cw = testCloudWatch(s3Endpoint);
    const listed = await cw.send(new ListMetricsCommand({ Namespace: ns }));
    const seen = (listed.Metrics ?? []).map((m) => ({
      name: m.MetricName,
      dims: Object.fromEntries((m.Dimensions ?? []).map((d) => [d.Name, d.Value])),
    }));
    expect(seen.map((m) => m.name).sort()).toEqual(["BackupBytes", "BackupDurationSeconds", "BackupSucceeded"]);
    for (const m of seen) expect(m.dims).toEqual({ App: "edms", Tier: "daily" });
    const stats = async (metric: string, stat: "Sum" | "Maximum") => {
      const out = await cw.send(
        new GetMetricStatisticsCommand({
          Namespace: ns,
          MetricName: metric,
          Dimensions: [
            { Name: "App", Value: "edms" },
            { Name: "Tier", Value: "daily" },
          ],
          StartTime: new Date(Date.now() - 3_600_000),
          EndTime: new Date(Date.now() + 3_600_000),
          Period: 60,
          Statistics: [stat],
        }),
      );
      return (out.Datapoints ?? []).reduce((sum, d) => sum + (d[stat] ?? 0), 0);
    };
    expect(await stats("BackupSucceeded", "Sum")).toBe(1);
    expect(await stats("BackupBytes", "Maximum")).toBe(payload.totalBytes);
  });

  it("pings start then fail and posts the error when the run fails; the exit code and message are the runner's own", async () => {
    const parent = await mkdtemp(path.join(tmpdir(), "edms-notify-fail-"));
    // A destination under a regular file: nothing can be written there.
    await writeFile(path.join(parent, "not-a-folder"), "x");
    const tag = randomBytes(3).toString("hex");
    const result = await runRunner(
      ["backup", "--tier", "weekly"],
      env({
        BACKUP_DESTINATION: `file://${parent}/not-a-folder/backups`,
        HEALTHCHECK_URL: `${receiver.url}/${tag}/ping/${CHECK}`,
        NOTIFY_WEBHOOK_URL: `${receiver.url}/${tag}/hook`,
      }),
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^edms-backup: /);
    const got = requestsUnder(`/${tag}/`);
    expect(got[0]).toMatchObject({ method: "GET", path: `/${tag}/ping/${CHECK}/start` });
    expect(
      got
        .slice(1)
        .map((r) => `${r.method} ${r.path}`)
        .sort(),
    ).toEqual([`GET /${tag}/ping/${CHECK}/fail`, `POST /${tag}/hook`]);
    const payload = JSON.parse(got.find((r) => r.method === "POST")!.body) as WebhookPayload;
    expect(payload).toMatchObject({ app: "edms", tier: "weekly", status: "failure", totalBytes: null });
    expect(payload.backupId).toMatch(/^\d{8}T\d{6}Z-[0-9a-f]{4}$/);
    // The webhook carries the same message the runner printed.
    expect(result.stderr).toContain(payload.error!);
    expect(payload.text).toContain(`:x: edms weekly backup ${payload.backupId} FAILED after`);
  });

  it("reports a configuration error too (exit 2), before anything ran", async () => {
    const tag = randomBytes(3).toString("hex");
    const result = await runRunner(
      ["backup", "--tier", "daily"],
      env({
        BACKUP_DESTINATION: "file://relative/path",
        MEDIA_DIR: "media",
        HEALTHCHECK_URL: `${receiver.url}/${tag}/ping`,
        NOTIFY_WEBHOOK_URL: `${receiver.url}/${tag}/hook`,
      }),
    );
    expect(result.code).toBe(2);
    const got = requestsUnder(`/${tag}/`);
    expect(got.map((r) => `${r.method} ${r.path}`)).toContain(`GET /${tag}/ping/fail`);
    const payload = JSON.parse(got.find((r) => r.method === "POST")!.body) as WebhookPayload;
    expect(payload).toMatchObject({ status: "failure", tier: "daily", backupId: null });
    expect(payload.error).toMatch(/^invalid configuration:/);
    expect(payload.error).toContain("MEDIA_DIR");
  });

  it("still succeeds when the healthcheck, the webhook and CloudWatch are all unreachable", async () => {
    const root = await mkdtemp(path.join(tmpdir(), "edms-notify-down-"));
    const down = await closedPortUrl();
    const started = Date.now();
    const result = await runRunner(
      ["backup", "--tier", "daily"],
      env({
        BACKUP_DESTINATION: `file://${root}`,
        HEALTHCHECK_URL: `${down}/ping/${CHECK}`,
        NOTIFY_WEBHOOK_URL: `${down}/hook/${HOOK_TOKEN}`,
        CLOUDWATCH_NAMESPACE: namespace(),
        AWS_ENDPOINT_URL_CLOUDWATCH: down,
        AWS_MAX_ATTEMPTS: "1",
      }),
    );
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(await readdir(path.join(root, "daily"))).toHaveLength(1);
    const warnings = result.logs.filter((l) => l.level === "warn");
    expect(warnings.map((w) => w.target).sort()).toEqual(["cloudwatch", "healthcheck", "healthcheck", "webhook"]);
    for (const w of warnings.filter((w) => w.target !== "cloudwatch")) {
      expect(w).toMatchObject({ origin: down, attempts: 3 });
    }
    expect(result.stdout).not.toContain(CHECK);
    expect(result.stdout).not.toContain("hooksecret");
    // Bounded: three quick tries each, not a hang.
    expect(Date.now() - started).toBeLessThan(20_000);
  });
});
