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
  METRIC_NEWEST_BACKUP_AGE,
} from "../runner/src/notify/metric-names.js";
import type { ScheduledTier } from "../runner/src/contract.js";

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
