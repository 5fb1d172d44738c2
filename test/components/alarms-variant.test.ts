/**
 * Alarms with non-default choices: the weekly tier disabled (no alarm for it, and status stops
 * expecting it), a daily status run, a longer grace, a KMS-encrypted topic and two addresses.
 * Its own file, so index.ts is evaluated afresh under these mocks.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type {
  DashboardBody as CloudWatchDashboard,
  MetricWidget,
} from "../../components/monitoring/cloudwatch-dashboard.js";
import { ofType, one, runStack, type StackRun } from "./stack-harness.js";

const KEY = "arn:aws:kms:ap-southeast-1:123456789012:key/0d9a4a6b-8e3f-1c0d-2a4b-6c8e5c2b7e1f";
let run: StackRun;
beforeAll(async () => {
  run = await runStack("prod", {
    disabledTiers: ["weekly"],
    alerts: { statusEveryHours: 24, graceHours: 12, topicKmsKeyArn: KEY },
    alertEmails: ["ops@example.com", "dba@example.com"],
  });
});

describe("alarms for a stack without the weekly tier, checked daily", () => {
  it("has alarms for daily and monthly only, with 1-day periods and a 12 h grace", () => {
    const alarms = ofType(run, "aws:cloudwatch/metricAlarm:MetricAlarm").filter((a) => a.name.endsWith("-age"));
    expect(alarms.map((a) => a.name).sort()).toEqual([
      "edms-backup-alarms-daily-age",
      "edms-backup-alarms-monthly-age",
    ]);
    for (const a of alarms) {
      expect(a.inputs).toMatchObject({ period: 86_400, evaluationPeriods: 2, treatMissingData: "breaching" });
      expect(Number(a.inputs.period) * Number(a.inputs.evaluationPeriods)).toBeLessThanOrEqual(604_800);
    }
    expect(one(run, "aws:cloudwatch/metricAlarm:MetricAlarm", "edms-backup-alarms-daily-age").inputs.threshold).toBe(
      86_400 + 12 * 3600,
    );
  });

  it("encrypts the topic with the given key and subscribes both addresses", () => {
    expect(one(run, "aws:sns/topic:Topic", "edms-backup-alarms-topic").inputs.kmsMasterKeyId).toBe(KEY);
    expect(
      ofType(run, "aws:sns/topicSubscription:TopicSubscription")
        .filter((s) => s.name.startsWith("edms-backup-alarms-"))
        .map((s) => s.inputs.endpoint)
        .sort(),
    ).toEqual(["dba@example.com", "ops@example.com"]);
  });

  it("runs status once a day for the tiers that still run", () => {
    const cronJob = one(run, "kubernetes:batch/v1:CronJob", "edms-backup-schedule-status").inputs;
    expect(JSON.stringify(cronJob)).toContain('"schedule":"17 0 * * *"');
    expect(JSON.stringify(cronJob)).toContain('{"name":"STATUS_TIERS","value":"daily,monthly"}');
    expect(JSON.stringify(cronJob)).toContain('{"name":"STATUS_GRACE_HOURS","value":"12"}');
  });

  it("draws the CloudWatch dashboard's age limits at the alarms' thresholds, for the tiers that run", () => {
    const body = JSON.parse(
      String(one(run, "aws:cloudwatch/dashboard:Dashboard", "edms-backup-dashboard-dashboard").inputs.dashboardBody),
    ) as CloudWatchDashboard;
    const ages = body.widgets
      .filter((w): w is MetricWidget => w.type === "metric")
      .find((w) => w.properties.metrics.some((m) => m[1] === "NewestBackupAgeSeconds"))!;
    const limits = Object.fromEntries(ages.properties.annotations!.horizontal.map((h) => [h.label, h.value]));
    const threshold = (tier: string) =>
      one(run, "aws:cloudwatch/metricAlarm:MetricAlarm", `edms-backup-alarms-${tier}-age`).inputs.threshold;
    expect(limits).toEqual({ "daily limit": threshold("daily"), "monthly limit": threshold("monthly") });
    // The exporter's deadlines (and so the PrometheusRule) use the same grace.
    const exporter = one(run, "kubernetes:apps/v1:Deployment", "edms-backup-exporter-deployment").inputs;
    expect(JSON.stringify(exporter)).toContain('{"name":"STATUS_GRACE_HOURS","value":"12"}');
  });
});
