/**
 * The alarms that fire when backups stop: the pure rule builder, and the prod stack under mocks
 * (an alarm per scheduled tier within CloudWatch's limits, the SNS topic and its subscriptions,
 * the status CronJob that feeds them, and the runner's PutMetricData permission).
 */
import type * as pulumi from "@pulumi/pulumi";
import { CronExpressionParser } from "cron-parser";
import { beforeAll, describe, expect, it } from "vitest";
import { ageAlarmRule, STATUS_EVERY_HOURS, statusSchedule } from "../../components/alarms/alarm-rules.js";
import { FirstDeployStamp, firstRunsEnv } from "../../components/schedule/first-deploy.js";
import type { PolicyDocument } from "../../components/identity/iam-policies.js";
import { validateKubernetesObject } from "./k8s-validation.js";
import { ofType, one, REGION, ACCOUNT, runStack, type StackRun } from "./stack-harness.js";
import { runnerEnvSchema } from "../../runner/src/contract.js";
import { statusSettingsFromEnv } from "../../runner/src/catalog/staleness.js";
import { METRIC_REFERENCE_CHECK_NOT_RUN } from "../../runner/src/metric-names.js";
import { runMetricData } from "../../runner/src/notify/metrics.js";

const DAY = 86_400;
const LIMIT = 604_800;

describe("ageAlarmRule", () => {
  it("keeps period x evaluation periods within 7 days for every status cadence, one status run per period", () => {
    for (const every of STATUS_EVERY_HOURS) {
      for (const [tier, interval] of [
        ["daily", DAY],
        ["weekly", 7 * DAY],
        ["monthly", 31 * DAY],
      ] as const) {
        const rule = ageAlarmRule({
          appName: "edms",
          namespace: "EDMS/Backup",
          tier,
          intervalSeconds: interval,
          graceHours: 6,
          statusEveryHours: every,
        });
        expect(rule.period).toBe(every * 3600);
        expect(rule.period * rule.evaluationPeriods).toBeLessThanOrEqual(LIMIT);
        expect(rule.datapointsToAlarm).toBe(rule.evaluationPeriods);
        expect(rule.threshold).toBe(interval + 6 * 3600);
        expect(rule.treatMissingData).toBe("breaching");
      }
    }
  });

  it("status schedules are valid five-field cron expressions running every H hours", () => {
    for (const every of STATUS_EVERY_HOURS) {
      const runs = CronExpressionParser.parse(statusSchedule(every), {
        tz: "UTC",
        currentDate: new Date(Date.UTC(2026, 0, 1)),
      });
      const first = runs.next().toDate().getTime();
      const second = runs.next().toDate().getTime();
      expect(second - first).toBe(every * 3_600_000);
    }
  });
});

let run: StackRun;
beforeAll(async () => {
  run = await runStack("prod");
});

const alarm = (tier: string) =>
  one(run, "aws:cloudwatch/metricAlarm:MetricAlarm", `edms-backup-alarms-${tier}-age`).inputs;

describe("the prod stack's alarms", () => {
  it("has an alarm per scheduled tier on its newest backup age: Maximum, 6 h periods, 2 of 2, missing = breaching", () => {
    expect(ofType(run, "aws:cloudwatch/metricAlarm:MetricAlarm").filter((a) => a.name.endsWith("-age"))).toHaveLength(
      3,
    );
    const topicArn = `arn:aws:sns:${REGION}:${ACCOUNT}:edms-backup-alarms-20260111abcdef`;
    const thresholds = { daily: DAY + 6 * 3600, weekly: 7 * DAY + 6 * 3600, monthly: 31 * DAY + 6 * 3600 };
    for (const [tier, threshold] of Object.entries(thresholds)) {
      const inputs = alarm(tier);
      expect(inputs).toMatchObject({
        name: `edms-backup-${tier}-overdue`,
        namespace: "EDMS/Backup",
        metricName: "NewestBackupAgeSeconds",
        dimensions: { App: "edms", Tier: tier },
        statistic: "Maximum",
        period: 21_600,
        evaluationPeriods: 2,
        datapointsToAlarm: 2,
        threshold,
        comparisonOperator: "GreaterThanThreshold",
        treatMissingData: "breaching",
        alarmActions: [topicArn],
        okActions: [topicArn],
      });
      expect(Number(inputs.period) * Number(inputs.evaluationPeriods)).toBeLessThanOrEqual(LIMIT);
      expect(String(inputs.alarmDescription)).toContain("RUNBOOK");
    }
    expect(run.outputs.alarmNames).toEqual({
      daily: "edms-backup-daily-overdue",
      weekly: "edms-backup-weekly-overdue",
      monthly: "edms-backup-monthly-overdue",
      drill: "edms-restore-drill",
      referenceCheck: "edms-media-reference-check-not-run",
      gc: "edms-backup-gc",
    });
  });

  it("alarms when a backup could not run its media reference check (MEDIA_REFERENCES set): 1 fires, the next 0 clears", () => {
    const topicArn = `arn:aws:sns:${REGION}:${ACCOUNT}:edms-backup-alarms-20260111abcdef`;
    const inputs = one(run, "aws:cloudwatch/metricAlarm:MetricAlarm", "edms-backup-alarms-reference-check").inputs;
    expect(inputs).toMatchObject({
      name: "edms-media-reference-check-not-run",
      namespace: "EDMS/Backup",
      metricName: METRIC_REFERENCE_CHECK_NOT_RUN,
      dimensions: { App: "edms" },
      statistic: "Maximum",
      threshold: 1,
      comparisonOperator: "GreaterThanOrEqualToThreshold",
      treatMissingData: "ignore",
      alarmActions: [topicArn],
      okActions: [topicArn],
    });
    // The dimensions the runner publishes with are exactly the alarm's.
    const data = runMetricData({
      app: "edms",
      tier: "daily",
      status: "success",
      startedAt: new Date().toISOString(),
      finishedAt: new Date().toISOString(),
      durationSeconds: 1,
      referenceCheck: "not-run",
    }).find((d) => d.MetricName === METRIC_REFERENCE_CHECK_NOT_RUN)!;
    expect(Object.fromEntries(data.Dimensions!.map((d) => [d.Name, d.Value]))).toEqual(inputs.dimensions);
    expect(data.Value).toBeGreaterThanOrEqual(Number(inputs.threshold));
    expect(String(inputs.alarmDescription)).toContain("RUNBOOK");
  });

  it("sends them to an SNS topic with the configured email subscriptions", () => {
    const topic = one(run, "aws:sns/topic:Topic", "edms-backup-alarms-topic").inputs;
    expect(topic.namePrefix).toBe("edms-backup-alarms-");
    expect(topic.kmsMasterKeyId).toBeUndefined();
    expect(run.outputs.alertTopicArn).toBe(`arn:aws:sns:${REGION}:${ACCOUNT}:edms-backup-alarms-20260111abcdef`);
    const subscriptions = ofType(run, "aws:sns/topicSubscription:TopicSubscription")
      .filter((r) => r.name.startsWith("edms-backup-alarms-"))
      .map((r) => r.inputs);
    expect(subscriptions).toEqual([
      { topic: run.outputs.alertTopicArn, protocol: "email", endpoint: "ops@example.com" },
    ]);
  });

  it("publishes the ages from a status CronJob every 6 hours, with the alarms' tiers and grace", () => {
    const cronJob = one(run, "kubernetes:batch/v1:CronJob", "edms-backup-schedule-status").inputs;
    expect(cronJob).toMatchObject({
      metadata: { name: "edms-backup-status", labels: { "app.kubernetes.io/component": "status" } },
      spec: { schedule: "17 */6 * * *" },
    });
    const container = (
      cronJob as {
        spec: {
          jobTemplate: {
            spec: {
              template: {
                spec: { containers: Array<{ args: string[]; env: Array<{ name: string; value?: string }> }> };
              };
            };
          };
        };
      }
    ).spec.jobTemplate.spec.template.spec.containers[0]!;
    expect(container.args).toEqual(["status", "--publish-metrics"]);
    expect(container.env.filter((e) => e.name.startsWith("STATUS_"))).toEqual([
      { name: "STATUS_TIERS", value: "daily,weekly,monthly" },
      { name: "STATUS_GRACE_HOURS", value: "6" },
      { name: "STATUS_INTERVAL_HOURS", value: "daily=24,weekly=168,monthly=744" },
      { name: "STATUS_DRILL_MAX_AGE_HOURS", value: "192" },
    ]);
    // The runner's own staleness rule, fed this environment, draws the line exactly where the alarms do.
    const settings = statusSettingsFromEnv(
      runnerEnvSchema.parse(
        Object.fromEntries(container.env.filter((e) => e.name.startsWith("STATUS_")).map((e) => [e.name, e.value])),
      ),
    );
    for (const tier of ["daily", "weekly", "monthly"] as const) {
      const alarm = one(run, "aws:cloudwatch/metricAlarm:MetricAlarm", `edms-backup-alarms-${tier}-age`);
      expect((settings.intervalHours[tier]! + settings.graceHours) * 3600).toBe(alarm.inputs.threshold);
    }
  });

  it("lets the runner put metrics only into its namespace", () => {
    const doc = JSON.parse(
      String(one(run, "aws:iam/rolePolicy:RolePolicy", "edms-backup-identity-policy").inputs.policy),
    ) as PolicyDocument;
    const cloudwatch = doc.Statement.filter((s) => JSON.stringify(s.Action).includes("cloudwatch"));
    expect(cloudwatch).toEqual([
      {
        Sid: "PublishRunnerMetrics",
        Effect: "Allow",
        Action: "cloudwatch:PutMetricData",
        Resource: "*",
        Condition: { StringEquals: { "cloudwatch:namespace": "EDMS/Backup" } },
      },
    ]);
  });
});

describe("the first-deploy grace in the prod stack", () => {
  const configMapData = () =>
    one(run, "kubernetes:core/v1:ConfigMap", "edms-backup-schedule-config").inputs.data as Record<string, string>;

  it("stamps the first deployment in its own ConfigMap and hands the stamp and the first runs to every pod", () => {
    const stamp = one(run, "kubernetes:core/v1:ConfigMap", "edms-backup-first-deploy-stamp").inputs;
    expect(stamp.metadata).toMatchObject({ name: "edms-backup-first-deploy", namespace: "edms" });
    const createdAt = (stamp.data as Record<string, string>).createdAt!;
    const data = configMapData();
    expect(data.STACK_CREATED_AT).toBe(createdAt);
    // The first run of each schedule after the stamp, in the CronJobs' zone, the drill included.
    expect(data.STATUS_FIRST_RUNS).toBe(
      firstRunsEnv(
        { daily: "0 2 * * *", weekly: "0 3 * * 0", monthly: "0 4 1 * *", drill: "0 6 * * 0" },
        "Asia/Singapore",
        new Date(createdAt),
      ),
    );
    const parsed = runnerEnvSchema.parse({
      STACK_CREATED_AT: data.STACK_CREATED_AT,
      STATUS_FIRST_RUNS: data.STATUS_FIRST_RUNS,
    });
    const firstRuns = statusSettingsFromEnv(parsed).firstRuns!;
    for (const tier of ["daily", "weekly", "monthly"] as const) {
      expect(firstRuns[tier]!.getTime()).toBeGreaterThan(Date.parse(createdAt));
    }
  });

  it("keeps the stamp of the first deployment: its data is ignored by every later update", async () => {
    // The component under the same mocks, with a transformation that sees each child's options.
    const seen: pulumi.ResourceTransformationArgs[] = [];
    const probe = new FirstDeployStamp(
      "probe",
      {
        objectName: "probe-first-deploy",
        namespace: "edms",
        labels: {},
        now: () => new Date("2026-01-11T14:47:48.000Z"),
      },
      {
        transformations: [
          (args) => {
            seen.push(args);
            return undefined;
          },
        ],
      },
    );
    const createdAt = await new Promise((resolve) => probe.createdAt.apply(resolve));
    expect(createdAt).toBe("2026-01-11T14:47:48.000Z");
    const configMap = seen.find((a) => a.type === "kubernetes:core/v1:ConfigMap")!;
    expect(configMap.opts.ignoreChanges).toEqual(["data"]);
  });

  it("runs status once at the first deployment, before the alarms exist, never again on later updates", () => {
    const job = one(run, "kubernetes:batch/v1:Job", "edms-backup-schedule-status-first").inputs;
    validateKubernetesObject("kubernetes:batch/v1:Job", job);
    expect(job.metadata).toMatchObject({
      name: "edms-backup-status-first",
      namespace: "edms",
      annotations: { "pulumi.com/replaceUnready": "true" },
    });
    const statusCronJob = one(run, "kubernetes:batch/v1:CronJob", "edms-backup-schedule-status").inputs as {
      spec: { jobTemplate: { spec: { template: { spec: unknown } } } };
    };
    // Exactly the status CronJob's pod: same args, environment and identity.
    expect((job.spec as { template: { spec: unknown } }).template.spec).toEqual(
      statusCronJob.spec.jobTemplate.spec.template.spec,
    );
    expect(job.spec).toMatchObject({ backoffLimit: 3, activeDeadlineSeconds: 600 });
  });
});

describe("the restore drill alarm in the prod stack", () => {
  it("notifies once (a composite) when the last drill failed or no drill passed for 8 days, missing data breaching", () => {
    const topicArn = `arn:aws:sns:${REGION}:${ACCOUNT}:edms-backup-alarms-20260111abcdef`;
    const overdue = one(run, "aws:cloudwatch/metricAlarm:MetricAlarm", "edms-backup-alarms-drill-overdue").inputs;
    expect(overdue).toMatchObject({
      name: "edms-restore-drill-overdue",
      namespace: "EDMS/Backup",
      metricName: "LastPassingDrillAgeSeconds",
      dimensions: { App: "edms" },
      statistic: "Maximum",
      period: 21_600,
      evaluationPeriods: 2,
      threshold: 8 * DAY,
      treatMissingData: "breaching",
    });
    expect(overdue.alarmActions).toBeUndefined();
    const failed = one(run, "aws:cloudwatch/metricAlarm:MetricAlarm", "edms-backup-alarms-drill-failed").inputs;
    expect(failed).toMatchObject({
      name: "edms-restore-drill-failed",
      metricName: "DrillSucceeded",
      statistic: "Minimum",
      comparisonOperator: "LessThanThreshold",
      threshold: 1,
      treatMissingData: "ignore",
    });
    expect(one(run, "aws:cloudwatch/compositeAlarm:CompositeAlarm", "edms-backup-alarms-drill").inputs).toMatchObject({
      alarmName: "edms-restore-drill",
      alarmRule: 'ALARM("edms-restore-drill-failed") OR ALARM("edms-restore-drill-overdue")',
      alarmActions: [topicArn],
      okActions: [topicArn],
    });
  });
});
