/**
 * Pure checks on CronJob schedules and time zones, shared by the stack-config schema and the tests.
 * They use the same cron parser the tests trust, so a schedule the config accepts is one Kubernetes
 * accepts too (Kubernetes takes standard five-field expressions; no seconds, no `TZ=` prefix).
 */
import { CronExpressionParser } from "cron-parser";

const DAY_MS = 24 * 60 * 60 * 1000;

/** True when `zone` is an IANA time zone this Node (and so the kube-controller-manager's tzdata) knows. */
export function isKnownTimeZone(zone: string): boolean {
  if (zone.trim() === "" || zone !== zone.trim()) return false;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
  } catch {
    return false;
  }
  // Intl also accepts offsets such as "+08:00", which a CronJob's timeZone field rejects.
  return /^[A-Za-z_]+(\/[A-Za-z0-9_+-]+)*$/.test(zone);
}

/** Why `expression` is not a schedule a CronJob can use, or undefined when it is fine. */
export function cronProblem(expression: string): string | undefined {
  const fields = expression.trim().split(/\s+/);
  if (expression.includes("TZ=")) return "must not contain TZ=; set timeZone instead";
  if (fields.length !== 5) {
    return `must have 5 fields (minute hour day-of-month month day-of-week), got ${fields.length}`;
  }
  try {
    CronExpressionParser.parse(expression, { strict: false }).next();
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  return undefined;
}

/** The next `count` run times of `expression` in `timeZone`, starting after `from`. */
export function nextRuns(expression: string, timeZone: string, from: Date, count: number): Date[] {
  const iterator = CronExpressionParser.parse(expression, { tz: timeZone, currentDate: from });
  const runs: Date[] = [];
  for (let i = 0; i < count; i++) runs.push(iterator.next().toDate());
  return runs;
}

/**
 * The longest gap between two consecutive runs over a year (every month length and DST change), in days. Used to reject a
 * retention shorter than the interval (which would leave moments with no backup of that tier).
 */
export function longestIntervalDays(
  expression: string,
  timeZone: string,
  from = new Date(Date.UTC(2026, 0, 1)),
): number {
  const end = from.getTime() + 366 * DAY_MS;
  const iterator = CronExpressionParser.parse(expression, { tz: timeZone, currentDate: from });
  let previous = iterator.next().toDate().getTime();
  let longest = 0;
  while (previous < end) {
    const next = iterator.next().toDate().getTime();
    longest = Math.max(longest, next - previous);
    previous = next;
  }
  return longest / DAY_MS;
}

/**
 * The fewest backups of a tier that exist at any moment over two years, when each lives exactly
 * `retentionDays` (S3 expires objects at the next midnight UTC after that, so reality keeps at least
 * as many). The worst moment is just before a run: count runs in (t - retention, t).
 */
export function minimumBackupsKept(
  expression: string,
  timeZone: string,
  retentionDays: number,
  from = new Date(Date.UTC(2026, 0, 1)),
): number {
  const retentionMs = retentionDays * DAY_MS;
  // Start far enough back that the first worst moment already has a full window of history.
  const historyStart = new Date(from.getTime() - retentionMs - 32 * DAY_MS);
  const end = from.getTime() + 2 * 366 * DAY_MS;
  const iterator = CronExpressionParser.parse(expression, { tz: timeZone, currentDate: historyStart });
  const runs: number[] = [];
  for (let run = iterator.next().toDate().getTime(); run < end; run = iterator.next().toDate().getTime()) {
    runs.push(run);
  }
  let fewest = Number.POSITIVE_INFINITY;
  for (const run of runs) {
    if (run < from.getTime()) continue;
    const moment = run - 1;
    const alive = runs.filter((r) => r <= moment && r > moment - retentionMs).length;
    fewest = Math.min(fewest, alive);
  }
  return fewest;
}
