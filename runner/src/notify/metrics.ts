/**
 * CloudWatch metrics: pure builders for the data points (unit-tested) and one publisher. The
 * client uses the SDK's standard configuration, so AWS_REGION, the pod's identity and
 * AWS_ENDPOINT_URL_CLOUDWATCH (a local CloudWatch such as moto) all work as usual.
 */
import type { CloudWatchClient, MetricDatum } from "@aws-sdk/client-cloudwatch";
import { withCredentialsHint } from "../aws/credentials-hint.js";
import { loadAwsSdk } from "../aws/load.js";
import { errorMessage } from "../errors.js";
import type { Logger } from "../output/logger.js";
import type { DrillStatus, TierStatus } from "../catalog/staleness.js";
import {
  DIMENSION_APP,
  DIMENSION_TIER,
  METRIC_BACKUP_BYTES,
  METRIC_BACKUP_DURATION,
  METRIC_BACKUP_FAILED,
  METRIC_BACKUP_SUCCEEDED,
  METRIC_MISSING_MEDIA_FILES,
  METRIC_DRILL_SUCCEEDED,
  METRIC_LAST_PASSING_DRILL_AGE,
  METRIC_NEWEST_BACKUP_AGE,
  METRIC_REFERENCE_CHECK_NOT_RUN,
} from "../metric-names.js";
import type { RunOutcome } from "./outcome.js";

const dimensions = (app: string, tier: string) => [
  { Name: DIMENSION_APP, Value: app },
  { Name: DIMENSION_TIER, Value: tier },
];

/** A run's data points: success, size, duration (and missing media files); or one BackupFailed point. */
export function runMetricData(o: RunOutcome): MetricDatum[] {
  // A run that failed before its tier was known cannot be attributed to an alarm's dimensions.
  if (!o.tier) return [];
  const Timestamp = new Date(o.finishedAt);
  const Dimensions = dimensions(o.app, o.tier);
  if (o.status === "failure")
    return [{ MetricName: METRIC_BACKUP_FAILED, Dimensions, Timestamp, Value: 1, Unit: "Count" }];
  const data: MetricDatum[] = [
    { MetricName: METRIC_BACKUP_SUCCEEDED, Dimensions, Timestamp, Value: 1, Unit: "Count" },
    { MetricName: METRIC_BACKUP_BYTES, Dimensions, Timestamp, Value: o.totalBytes ?? 0, Unit: "Bytes" },
    { MetricName: METRIC_BACKUP_DURATION, Dimensions, Timestamp, Value: o.durationSeconds, Unit: "Seconds" },
  ];
  if (o.referenceCheck)
    data.push({
      MetricName: METRIC_REFERENCE_CHECK_NOT_RUN,
      // App only: one alarm for the application, whichever tier's run found the column gone.
      Dimensions: [{ Name: DIMENSION_APP, Value: o.app }],
      Timestamp,
      Value: o.referenceCheck === "not-run" ? 1 : 0,
      Unit: "Count",
    });
  // Zero is a data point too: an alarm on it must see a checked run with nothing missing.
  if (o.missingMediaFiles !== undefined)
    data.push({
      MetricName: METRIC_MISSING_MEDIA_FILES,
      Dimensions,
      Timestamp,
      Value: o.missingMediaFiles,
      Unit: "Count",
    });
  return data;
}

/**
 * The age of each tier's newest complete backup (for a tier still waiting for its first run, the
 * age from staleness.ts's never-ran baseline, below the alarm's threshold until the first run +
 * grace). A missing tier gets no data point on purpose: its alarm treats missing data as
 * breaching, exactly as when this command stops running at all.
 */
export function ageMetricData(app: string, tiers: readonly TierStatus[], at: Date): MetricDatum[] {
  return tiers
    .filter((t) => t.alarmAgeSeconds !== undefined)
    .map((t) => ({
      MetricName: METRIC_NEWEST_BACKUP_AGE,
      Dimensions: dimensions(app, t.tier),
      Timestamp: at,
      Value: t.alarmAgeSeconds,
      Unit: "Seconds" as const,
    }));
}

/** A drill's data points: DrillSucceeded 1/0, and a passing drill's age (0) for the drill alarm. */
export function drillMetricData(app: string, ok: boolean, at: Date): MetricDatum[] {
  const Dimensions = [{ Name: DIMENSION_APP, Value: app }];
  const data: MetricDatum[] = [
    { MetricName: METRIC_DRILL_SUCCEEDED, Dimensions, Timestamp: at, Value: ok ? 1 : 0, Unit: "Count" },
  ];
  if (ok)
    data.push({ MetricName: METRIC_LAST_PASSING_DRILL_AGE, Dimensions, Timestamp: at, Value: 0, Unit: "Seconds" });
  return data;
}

/** From `status`: the last passing drill's age (or a pending drill's never-ran age); none when missing. */
export function drillAgeMetricData(app: string, drill: DrillStatus, at: Date): MetricDatum[] {
  if (drill.alarmAgeSeconds === undefined) return [];
  return [
    {
      MetricName: METRIC_LAST_PASSING_DRILL_AGE,
      Dimensions: [{ Name: DIMENSION_APP, Value: app }],
      Timestamp: at,
      Value: drill.alarmAgeSeconds,
      Unit: "Seconds",
    },
  ];
}

/** PutMetricData takes at most 1000 data points per call; we send a handful. */
export async function putMetrics(
  namespace: string,
  data: readonly MetricDatum[],
  client?: CloudWatchClient,
): Promise<void> {
  // Loaded on first use: runs without CLOUDWATCH_NAMESPACE never pay for the SDK.
  const { cloudwatch: cw } = await loadAwsSdk();
  const sender = client ?? new cw.CloudWatchClient({});
  for (let i = 0; i < data.length; i += 1000) {
    await sender
      .send(new cw.PutMetricDataCommand({ Namespace: namespace, MetricData: data.slice(i, i + 1000) }))
      .catch((error: unknown) => {
        throw withCredentialsHint(error);
      });
  }
}

/** For the backup run: a metrics failure is logged, never fatal. */
export async function publishRunMetrics(namespace: string, outcome: RunOutcome, log: Logger): Promise<boolean> {
  const data = runMetricData(outcome);
  if (data.length === 0) return true;
  try {
    await putMetrics(namespace, data);
    log.debug(
      { stage: "notify", target: "cloudwatch", namespace, metrics: data.map((d) => d.MetricName) },
      "metrics published",
    );
    return true;
  } catch (error) {
    log.warn(
      { stage: "notify", target: "cloudwatch", namespace, problem: errorMessage(error) },
      "could not publish CloudWatch metrics; the backup's own result is unaffected",
    );
    return false;
  }
}
