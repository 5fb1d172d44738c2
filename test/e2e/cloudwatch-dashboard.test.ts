// The stack's CloudWatch dashboard (components/monitoring/cloudwatch-dashboard.ts) over the metrics the real
// runner publishes: a backup (with media references), a failed backup, `status --publish-metrics`
// and a drill publish to moto's CloudWatch, and every widget of the dashboard then finds data
// under exactly the namespace, metric names, dimensions and statistics it asks for (a renamed
// metric or dimension leaves a widget empty, and this test fails). moto accepts the body too.
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { GetDashboardCommand, GetMetricStatisticsCommand, PutDashboardCommand } from "@aws-sdk/client-cloudwatch";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { cloudwatchDashboardBody, type MetricWidget } from "../../components/monitoring/cloudwatch-dashboard.js";
import { fileDatabases } from "../helpers/file-databases.js";
import { awsTestEnv } from "../helpers/moto.js";
import { testCloudWatch } from "../helpers/notify-receiver.js";
import { runRunner } from "../helpers/runner-cli.js";
import { makeMediaTree, seedEdmsDatabase } from "../helpers/sample-data.js";

const pg = inject("pg");
const endpoint = inject("s3Endpoint");
const { create: newDatabase } = fileDatabases(pg);
const NS = `EdmsDashboard/${randomBytes(4).toString("hex")}`;
const body = cloudwatchDashboardBody({
  appName: "edms",
  namespace: NS,
  region: "us-east-1",
  maxAgeSeconds: { daily: 30 * 3600, weekly: 174 * 3600 },
  drill: { maxAgeSeconds: 192 * 3600 },
});

beforeAll(async () => {
  const db = await newDatabase("cwdash");
  await seedEdmsDatabase(db.url);
  const media = await mkdtemp(path.join(tmpdir(), "edms-cwdash-media-"));
  await makeMediaTree(media, { bigFileMiB: 1 });
  const dest = await mkdtemp(path.join(tmpdir(), "edms-cwdash-dest-"));
  const env = {
    ...awsTestEnv(),
    APP_NAME: "edms",
    CLOUDWATCH_NAMESPACE: NS,
    AWS_ENDPOINT_URL_CLOUDWATCH: endpoint,
    DATABASE_URL: db.url,
    MEDIA_DIR: media,
    BACKUP_DESTINATION: `file://${dest}`,
  };
  const ok = await runRunner(["backup", "--tier", "daily"], {
    ...env,
    MEDIA_REFERENCES: "documents_documentversion.file",
  });
  expect(ok.code, ok.stderr).toBe(0);
  // A weekly run that fails (its database does not exist): BackupFailed.
  const failed = await runRunner(["backup", "--tier", "weekly"], {
    ...env,
    DATABASE_URL: db.url.replace(/\/[^/?]+(\?|$)/, "/no_such_database$1"),
  });
  expect(failed.code).toBe(1);
  const drill = await runRunner(["drill", "latest"], env);
  expect(drill.code, drill.stderr).toBe(0);
  const status = await runRunner(["status", "--publish-metrics"], {
    ...env,
    STATUS_TIERS: "daily",
    STATUS_DRILL_MAX_AGE_HOURS: "192",
  });
  expect(status.code, status.stderr).toBe(0);
}, 180_000);

describe("the CloudWatch dashboard, over what the runner published", () => {
  it("finds data for every widget, under the names, dimensions and statistics it asks for", async () => {
    const cw = testCloudWatch(endpoint);
    const widgets = body.widgets.filter((w): w is MetricWidget => w.type === "metric");
    expect(widgets.length).toBeGreaterThanOrEqual(7);
    const empty: string[] = [];
    for (const w of widgets) {
      let points = 0;
      for (const line of w.properties.metrics) {
        const [namespace, metric, ...rest] = line;
        const pairs = rest.filter((x): x is string => typeof x === "string");
        const options = rest.find((x) => typeof x === "object") as { stat?: string } | undefined;
        const Dimensions = [];
        for (let i = 0; i < pairs.length; i += 2) Dimensions.push({ Name: pairs[i]!, Value: pairs[i + 1]! });
        const stat = (options?.stat ?? w.properties.stat) as "Sum" | "Maximum" | "Minimum";
        const r = await cw.send(
          new GetMetricStatisticsCommand({
            Namespace: namespace,
            MetricName: metric,
            Dimensions,
            StartTime: new Date(Date.now() - 3600_000),
            EndTime: new Date(Date.now() + 3600_000),
            Period: 60,
            Statistics: [stat],
          }),
        );
        points += r.Datapoints?.length ?? 0;
      }
      if (points === 0) empty.push(w.properties.title);
    }
    expect(empty).toEqual([]);
  });

  it("is a body CloudWatch's PutDashboard takes", async () => {
    const cw = testCloudWatch(endpoint);
    const name = `edms-backup-${randomBytes(3).toString("hex")}`;
    await cw.send(new PutDashboardCommand({ DashboardName: name, DashboardBody: JSON.stringify(body) }));
    const got = await cw.send(new GetDashboardCommand({ DashboardName: name }));
    expect(JSON.parse(got.DashboardBody!)).toEqual(body);
  });
});
