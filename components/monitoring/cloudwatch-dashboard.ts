/**
 * The CloudWatch dashboard (stack config `cloudwatchDashboard`) as a pure function: the picture the
 * Grafana dashboard gives, from the metrics the runner already publishes (runner/src/metric-names.ts):
 * newest-backup age per tier against its alarm threshold, backups succeeded and failed, durations,
 * sizes, missing media files, and the drill. The metric names come from the shared module, so a
 * renamed metric fails the type check instead of leaving an empty graph.
 */
import {
  DIMENSION_APP,
  DIMENSION_TIER,
  METRIC_BACKUP_BYTES,
  METRIC_BACKUP_DURATION,
  METRIC_BACKUP_FAILED,
  METRIC_BACKUP_SUCCEEDED,
  METRIC_DRILL_SUCCEEDED,
  METRIC_LAST_PASSING_DRILL_AGE,
  METRIC_MISSING_MEDIA_FILES,
  METRIC_NEWEST_BACKUP_AGE,
} from "../../runner/src/metric-names.js";
import type { ScheduledTier } from "../../runner/src/contract.js";

export interface CloudWatchDashboardSettings {
  appName: string;
  namespace: string;
  region: string;
  /** Each watched tier's alarm threshold (interval + grace), in seconds. */
  maxAgeSeconds: Partial<Record<ScheduledTier, number>>;
  /** The drill alarm's threshold, when the drill is enabled. */
  drill?: { maxAgeSeconds: number };
}

/** One line of a metric widget: [namespace, metric, dimension, value, ..., options]. */
export type MetricLine = [string, string, ...(string | { label?: string; stat?: string })[]];

export interface MetricWidget {
  type: "metric";
  x: number;
  y: number;
  width: number;
  height: number;
  properties: {
    title: string;
    region: string;
    view: "timeSeries" | "singleValue";
    stacked?: boolean;
    period: number;
    stat: string;
    metrics: MetricLine[];
    yAxis?: { left: { min: number; label?: string } };
    annotations?: { horizontal: Array<{ label: string; value: number }> };
  };
}

export interface TextWidget {
  type: "text";
  x: number;
  y: number;
  width: number;
  height: number;
  properties: { markdown: string };
}

export interface DashboardBody {
  widgets: Array<MetricWidget | TextWidget>;
}

const HOUR = 3600;
const DAY = 24 * HOUR;

/** A metric widget at (x, y), `width` columns wide and 6 rows high, in the dashboard's region. */
function metricWidget(
  region: string,
  [x, y, width]: [number, number, number],
  title: string,
  stat: string,
  period: number,
  metrics: MetricLine[],
  extra: Partial<MetricWidget["properties"]> = {},
): MetricWidget {
  return {
    type: "metric",
    x,
    y,
    width,
    height: 6,
    properties: { title, region, view: "timeSeries", period, stat, metrics, ...extra },
  };
}

/** What the dashboard shows and where to read how. */
function headerWidget(s: CloudWatchDashboardSettings): TextWidget {
  return {
    type: "text",
    x: 0,
    y: 0,
    width: 24,
    height: 2,
    properties: {
      markdown: `## ${s.appName} backups\nFrom the runner's metrics in \`${s.namespace}\`: ages are published by the status CronJob every few hours, the rest when each backup and drill ends. How to read it: docs/RUNBOOK.md, "CloudWatch dashboard".`,
    },
  };
}

export function cloudwatchDashboardBody(s: CloudWatchDashboardSettings): DashboardBody {
  const tiers = Object.keys(s.maxAgeSeconds) as ScheduledTier[];
  const perTier = (metric: string, label: (tier: string) => string = (tier) => tier): MetricLine[] =>
    tiers.map((tier) => [s.namespace, metric, DIMENSION_APP, s.appName, DIMENSION_TIER, tier, { label: label(tier) }]);
  const app = (metric: string, label: string): MetricLine => [s.namespace, metric, DIMENSION_APP, s.appName, { label }];
  const widget = (
    x: number,
    y: number,
    width: number,
    ...rest: [string, string, number, MetricLine[], Partial<MetricWidget["properties"]>?]
  ) => metricWidget(s.region, [x, y, width], ...rest);
  const widgets: DashboardBody["widgets"] = [
    headerWidget(s),
    widget(
      0,
      2,
      16,
      "Newest backup age per tier (alarm above interval + grace)",
      "Maximum",
      HOUR,
      perTier(METRIC_NEWEST_BACKUP_AGE),
      {
        yAxis: { left: { min: 0, label: "seconds" } },
        annotations: {
          horizontal: tiers.map((tier) => ({ label: `${tier} limit`, value: s.maxAgeSeconds[tier]! })),
        },
      },
    ),
    widget(16, 2, 8, "Backups succeeded and failed per day", "Sum", DAY, [
      ...perTier(METRIC_BACKUP_SUCCEEDED, (tier) => `${tier} succeeded`),
      ...perTier(METRIC_BACKUP_FAILED, (tier) => `${tier} failed`),
    ]),
    widget(0, 8, 8, "Backup duration", "Maximum", HOUR, perTier(METRIC_BACKUP_DURATION), {
      yAxis: { left: { min: 0, label: "seconds" } },
    }),
    widget(8, 8, 8, "Backup size (stored bytes)", "Maximum", HOUR, perTier(METRIC_BACKUP_BYTES), {
      yAxis: { left: { min: 0, label: "bytes" } },
    }),
    widget(
      16,
      8,
      8,
      "Missing media files (referenced, not in the backup)",
      "Maximum",
      HOUR,
      perTier(METRIC_MISSING_MEDIA_FILES),
      {
        yAxis: { left: { min: 0 } },
      },
    ),
  ];
  if (s.drill) {
    widgets.push(
      widget(0, 14, 12, "Restore drill: 1 passed, 0 failed", "Minimum", DAY, [app(METRIC_DRILL_SUCCEEDED, "drill")], {
        yAxis: { left: { min: 0 } },
      }),
      widget(
        12,
        14,
        12,
        "Time since the last passing drill",
        "Maximum",
        HOUR,
        [app(METRIC_LAST_PASSING_DRILL_AGE, "age")],
        {
          yAxis: { left: { min: 0, label: "seconds" } },
          annotations: { horizontal: [{ label: "drill limit", value: s.drill.maxAgeSeconds }] },
        },
      ),
    );
  }
  return { widgets };
}
