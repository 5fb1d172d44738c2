/**
 * The content store gc's alarms, as pure data (like alarm-rules.ts for the backups and the drill).
 * gc publishes METRIC_GC_SUCCEEDED when it ends (1 finished, 0 failed). Two conditions, one
 * composite that notifies:
 * - failed: the last value was 0. Missing data keeps the state (gc runs once a day or so), so the
 *   alarm stays in ALARM until a gc finishes;
 * - overdue: no 1 within the gc schedule's longest interval + the alert grace: one-hour periods,
 *   every one of them must lack a success (missing data is breaching), so a deleted CronJob, a gc
 *   that never ends or a runner that does not publish fires it too. CloudWatch looks back at most
 *   7 days; the stack config refuses a gc schedule whose window is longer (store-config.ts).
 */
import { DIMENSION_APP, MAX_ALARM_RANGE_SECONDS, METRIC_GC_SUCCEEDED } from "../../runner/src/metric-names.js";
import type { AgeAlarmRule, DrillAlarmRules } from "../alarms/alarm-rules.js";

const HOUR = 3600;

export interface GcAlarmSettings {
  appName: string;
  namespace: string;
  /** The gc schedule's longest interval plus the grace, in hours. */
  windowHours: number;
}

export interface GcAlarmRules {
  /** The same shape as the drill's (alarm-rules.ts): the last value was 0. */
  failed: DrillAlarmRules["failed"];
  /** An age alarm's inputs (alarm-rules.ts), but firing on "no 1 within the window". */
  overdue: Omit<AgeAlarmRule, "threshold" | "comparisonOperator"> & {
    threshold: 1;
    comparisonOperator: "LessThanThreshold";
  };
  composite: { alarmName: string; alarmDescription: string; alarmRule: string };
}

export function gcAlarmRules(s: GcAlarmSettings): GcAlarmRules {
  const periods = Math.ceil(s.windowHours);
  if (periods * HOUR > MAX_ALARM_RANGE_SECONDS) {
    throw new Error(`gc alarm range ${periods} h exceeds CloudWatch's ${MAX_ALARM_RANGE_SECONDS / HOUR} h`);
  }
  const dimensions = { [DIMENSION_APP]: s.appName };
  const failed = {
    name: `${s.appName}-backup-gc-failed`,
    alarmDescription: `The last media store gc of ${s.appName} failed: unreferenced content objects are not being freed. See docs/RUNBOOK.md.`,
    namespace: s.namespace,
    metricName: METRIC_GC_SUCCEEDED,
    dimensions,
    statistic: "Minimum" as const,
    period: HOUR,
    evaluationPeriods: 1 as const,
    threshold: 1 as const,
    comparisonOperator: "LessThanThreshold" as const,
    treatMissingData: "ignore" as const,
  };
  const overdue = {
    name: `${s.appName}-backup-gc-overdue`,
    alarmDescription:
      `No media store gc of ${s.appName} finished for more than ${periods} h (the gc schedule's interval + grace), ` +
      `or gc stopped publishing ${METRIC_GC_SUCCEEDED} (missing data counts as breaching). See docs/RUNBOOK.md.`,
    namespace: s.namespace,
    metricName: METRIC_GC_SUCCEEDED,
    dimensions,
    statistic: "Maximum" as const,
    period: HOUR,
    evaluationPeriods: periods,
    datapointsToAlarm: periods,
    threshold: 1 as const,
    comparisonOperator: "LessThanThreshold" as const,
    treatMissingData: "breaching" as const,
  };
  return {
    failed,
    overdue,
    composite: {
      alarmName: `${s.appName}-backup-gc`,
      alarmDescription: `The last media store gc of ${s.appName} failed, or none finished for ${periods} h. See docs/RUNBOOK.md.`,
      alarmRule: `ALARM("${failed.name}") OR ALARM("${overdue.name}")`,
    },
  };
}
