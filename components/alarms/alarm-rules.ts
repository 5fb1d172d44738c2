/**
 * The CloudWatch alarms that fire when backups stop, as pure data (unit-tested without Pulumi).
 *
 * Why an age metric and not "no success within the interval": an alarm looks back at most 7 days
 * (period x evaluation periods <= 604,800 s), so it cannot watch a weekly or monthly tier directly.
 * Instead the status CronJob publishes, every few hours, the age of each tier's newest complete
 * backup (NewestBackupAgeSeconds), and each tier's alarm fires when that age passes the tier's
 * interval plus a grace, or when the metric stops arriving (missing data is breaching): so a
 * deleted CronJob, namespace or cluster fires it too.
 */
import {
  DIMENSION_APP,
  DIMENSION_TIER,
  MAX_ALARM_RANGE_SECONDS,
  METRIC_DRILL_SUCCEEDED,
  METRIC_LAST_PASSING_DRILL_AGE,
  METRIC_NEWEST_BACKUP_AGE,
  METRIC_REFERENCE_CHECK_NOT_RUN,
} from "../../runner/src/metric-names.js";
import type { ScheduledTier } from "../../runner/src/contract.js";

/** Hours between status runs: divisors of 24, so `*\/H` in cron spaces the runs evenly. */
export const STATUS_EVERY_HOURS = [1, 2, 3, 4, 6, 8, 12, 24] as const;
export type StatusEveryHours = (typeof STATUS_EVERY_HOURS)[number];

/**
 * Consecutive periods that must breach. Two, so that one status run that did not happen (a node
 * drained at the wrong minute) does not page anyone, while two in a row do.
 */
export const BREACHING_PERIODS = 2;

/** The status CronJob's schedule: minute 17 (away from the backups' full hours), every H hours. */
export function statusSchedule(everyHours: StatusEveryHours): string {
  return everyHours === 24 ? "17 0 * * *" : `17 */${everyHours} * * *`;
}

export interface AgeAlarmSettings {
  appName: string;
  namespace: string;
  tier: ScheduledTier;
  /** The longest gap between two runs of the tier's schedule, in seconds. */
  intervalSeconds: number;
  graceHours: number;
  statusEveryHours: StatusEveryHours;
}

/** Exactly the inputs of an aws.cloudwatch.MetricAlarm, minus the actions. */
export interface AgeAlarmRule {
  name: string;
  alarmDescription: string;
  namespace: string;
  metricName: string;
  dimensions: Record<string, string>;
  statistic: "Maximum";
  period: number;
  evaluationPeriods: number;
  datapointsToAlarm: number;
  threshold: number;
  comparisonOperator: "GreaterThanThreshold";
  treatMissingData: "breaching";
}

export function ageAlarmRule(s: AgeAlarmSettings): AgeAlarmRule {
  // One status run per period: a period shorter than the publishing interval would be empty
  // (= breaching) most of the time; a longer one would only slow the alarm down.
  const period = s.statusEveryHours * 3600;
  const evaluationPeriods = BREACHING_PERIODS;
  if (period * evaluationPeriods > MAX_ALARM_RANGE_SECONDS) {
    throw new Error(`alarm range ${period * evaluationPeriods} s exceeds CloudWatch's ${MAX_ALARM_RANGE_SECONDS} s`);
  }
  const threshold = Math.ceil(s.intervalSeconds) + s.graceHours * 3600;
  const days = (seconds: number) => `${Math.round((seconds / 86_400) * 10) / 10} days`;
  return {
    name: `${s.appName}-backup-${s.tier}-overdue`,
    alarmDescription:
      `No complete ${s.tier} backup of ${s.appName} for more than ${days(threshold)} (schedule interval + ${s.graceHours} h grace), ` +
      `or the status CronJob stopped publishing ${METRIC_NEWEST_BACKUP_AGE} (missing data counts as breaching). ` +
      "See docs/RUNBOOK.md, 'When an alarm fires'.",
    namespace: s.namespace,
    metricName: METRIC_NEWEST_BACKUP_AGE,
    dimensions: { [DIMENSION_APP]: s.appName, [DIMENSION_TIER]: s.tier },
    statistic: "Maximum",
    period,
    evaluationPeriods,
    datapointsToAlarm: evaluationPeriods,
    threshold,
    comparisonOperator: "GreaterThanThreshold",
    treatMissingData: "breaching",
  };
}

/** No passing restore drill for this long fires the drill alarm (a weekly drill may fail once). */
export const DRILL_MAX_AGE_HOURS = 8 * 24;

export interface DrillAlarmRules {
  /** LastPassingDrillAgeSeconds (from status, every statusEveryHours) above maxAge, or missing. */
  overdue: Omit<AgeAlarmRule, "dimensions"> & { dimensions: Record<string, string> };
  /** The last DrillSucceeded was 0: stays in ALARM (missing data keeps the state) until a drill passes. */
  failed: {
    name: string;
    alarmDescription: string;
    namespace: string;
    metricName: string;
    dimensions: Record<string, string>;
    statistic: "Minimum";
    period: number;
    evaluationPeriods: 1;
    threshold: 1;
    comparisonOperator: "LessThanThreshold";
    treatMissingData: "ignore";
  };
  /** The one alarm that notifies: either of the two. */
  composite: { alarmName: string; alarmDescription: string; alarmRule: string };
}

export function drillAlarmRules(s: {
  appName: string;
  namespace: string;
  statusEveryHours: StatusEveryHours;
  maxAgeHours?: number;
}): DrillAlarmRules {
  const maxAgeHours = s.maxAgeHours ?? DRILL_MAX_AGE_HOURS;
  const period = s.statusEveryHours * 3600;
  const dimensions = { [DIMENSION_APP]: s.appName };
  const overdue = {
    name: `${s.appName}-restore-drill-overdue`,
    alarmDescription:
      `No restore drill of ${s.appName} passed for more than ${maxAgeHours / 24} days, or the status CronJob stopped ` +
      `publishing ${METRIC_LAST_PASSING_DRILL_AGE} (missing data counts as breaching). See docs/RUNBOOK.md.`,
    namespace: s.namespace,
    metricName: METRIC_LAST_PASSING_DRILL_AGE,
    dimensions,
    statistic: "Maximum" as const,
    period,
    evaluationPeriods: BREACHING_PERIODS,
    datapointsToAlarm: BREACHING_PERIODS,
    threshold: maxAgeHours * 3600,
    comparisonOperator: "GreaterThanThreshold" as const,
    treatMissingData: "breaching" as const,
  };
  const failed = {
    name: `${s.appName}-restore-drill-failed`,
    alarmDescription: `The last restore drill of ${s.appName} failed: its backup could not be restored. See docs/RUNBOOK.md.`,
    namespace: s.namespace,
    metricName: METRIC_DRILL_SUCCEEDED,
    dimensions,
    statistic: "Minimum" as const,
    period: 3600,
    evaluationPeriods: 1 as const,
    threshold: 1 as const,
    comparisonOperator: "LessThanThreshold" as const,
    // Drills run weekly: between them there is no data, and the last verdict must stand.
    treatMissingData: "ignore" as const,
  };
  return {
    overdue,
    failed,
    composite: {
      alarmName: `${s.appName}-restore-drill`,
      alarmDescription: `The last restore drill of ${s.appName} failed, or none passed for ${maxAgeHours / 24} days. See docs/RUNBOOK.md.`,
      alarmRule: `ALARM("${failed.name}") OR ALARM("${overdue.name}")`,
    },
  };
}

/**
 * The media reference check could not run (MEDIA_REFERENCES names a column the database no longer
 * has): the backups are still taken, so no other alarm fires; this one does, on the first run
 * that publishes a 1, and clears on the first that publishes a 0 (the column fixed). Between
 * runs there is no data and the last verdict stands ("ignore"), as for the failed drill.
 */
export function referenceCheckAlarmRule(s: { appName: string; namespace: string }) {
  return {
    name: `${s.appName}-media-reference-check-not-run`,
    alarmDescription:
      `The last backup of ${s.appName} could not run its media reference check: MEDIA_REFERENCES names a column the ` +
      "database does not have (a migration renamed it?). The backup itself is complete. See docs/RUNBOOK.md.",
    namespace: s.namespace,
    metricName: METRIC_REFERENCE_CHECK_NOT_RUN,
    dimensions: { [DIMENSION_APP]: s.appName },
    statistic: "Maximum" as const,
    period: 3600,
    evaluationPeriods: 1 as const,
    threshold: 1 as const,
    comparisonOperator: "GreaterThanOrEqualToThreshold" as const,
    treatMissingData: "ignore" as const,
  };
}
