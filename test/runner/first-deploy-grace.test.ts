/**
 * No alarm before a tier's first chance to run: a tier that was never backed up is "pending" until
 * its first scheduled run after the stack's first deployment plus the grace, then missing. One
 * rule (staleness.ts's neverRanBaseline) decides for `status` and for the age it publishes, which
 * the CloudWatch alarm compares with its threshold; both are checked here against each other over
 * generated deployment moments, schedules, zones and graces, and `status` itself as operators run it.
 */
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ageAlarmRule } from "../../components/alarms/alarm-rules.js";
import { firstRunsEnv } from "../../components/schedule/first-deploy.js";
import { statusEnv } from "../../components/schedule/runner-env.js";
import { longestIntervalDays, nextRuns } from "../../components/config/schedules.js";
import type { StatusReport } from "../../runner/src/commands/status.js";
import { runnerEnvSchema, type ScheduledTier } from "../../runner/src/contract.js";
import { ageMetricData } from "../../runner/src/notify/metrics.js";
import { assessStatus, statusSettingsFromEnv } from "../../runner/src/catalog/staleness.js";
import { runRunner } from "../helpers/runner-cli.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const SCHEDULES: Record<ScheduledTier, string[]> = {
  daily: ["0 2 * * *", "30 23 * * *", "0 */12 * * *"],
  weekly: ["0 3 * * 0", "15 1 * * 3"],
  monthly: ["0 4 1 * *", "0 0 28 * *"],
};
const ZONES = ["Asia/Singapore", "UTC", "America/New_York", "Europe/Berlin"];

// A year of runs per schedule and zone: computed once, not once per generated case.
const intervals = new Map<string, number>();
function intervalHoursOf(schedule: string, zone: string): number {
  const key = `${schedule}|${zone}`;
  if (!intervals.has(key)) intervals.set(key, longestIntervalDays(schedule, zone) * 24);
  return intervals.get(key)!;
}

/** What the Pulumi program hands the status pod, parsed by the runner's own schema. */
function statusSettings(tier: ScheduledTier, schedule: string, zone: string, graceHours: number, createdAt: Date) {
  const intervalHours = intervalHoursOf(schedule, zone);
  const env = runnerEnvSchema.parse({
    ...statusEnv([tier], graceHours, { [tier]: intervalHours }),
    STACK_CREATED_AT: createdAt.toISOString(),
    STATUS_FIRST_RUNS: firstRunsEnv({ [tier]: schedule }, zone, createdAt),
  });
  return { settings: statusSettingsFromEnv(env), intervalHours };
}

describe("first-deploy grace", () => {
  it("status and the alarm agree at every moment: pending (quiet) until first run + grace, missing (breaching) after", () => {
    fc.assert(
      fc.property(
        fc.constantFrom<ScheduledTier>("daily", "weekly", "monthly"),
        fc.nat({ max: 2 }),
        fc.constantFrom(...ZONES),
        fc.integer({ min: 1, max: 48 }),
        fc.date({ min: new Date("2026-01-01T00:00:00Z"), max: new Date("2030-12-31T00:00:00Z"), noInvalidDate: true }),
        fc.integer({ min: 0, max: 70 * 24 * 3600 }),
        (tier, pick, zone, graceHours, createdAt, afterSeconds) => {
          const schedule = SCHEDULES[tier][pick % SCHEDULES[tier].length]!;
          const { settings, intervalHours } = statusSettings(tier, schedule, zone, graceHours, createdAt);
          const firstRun = nextRuns(schedule, zone, createdAt, 1)[0]!;
          const now = new Date(createdAt.getTime() + afterSeconds * 1000);
          const status = assessStatus(now, [], settings).tiers[0]!;

          // The rule itself: exactly the first run + grace.
          const firstChancePassed = now.getTime() - firstRun.getTime() > graceHours * HOUR;
          expect(status.state).toBe(firstChancePassed ? "missing" : "pending");

          // The alarm: a data point above its threshold, or none at all, breaches.
          const rule = ageAlarmRule({
            appName: "edms",
            namespace: "EDMS/Backup",
            tier,
            intervalSeconds: intervalHours * 3600,
            graceHours,
            statusEveryHours: 6,
          });
          const points = ageMetricData("edms", [status], now);
          const breaching = points.length === 0 || Number(points[0]!.Value) > rule.threshold;
          expect(breaching).toBe(firstChancePassed);
          expect(assessStatus(now, [], settings).healthy).toBe(!firstChancePassed);
        },
      ),
      { numRuns: 100 },
    );
  });

  it("the monthly tier deployed on the 30th is missing 6 h after the 1st, not a month later", () => {
    const createdAt = new Date("2026-01-30T10:00:00Z");
    const { settings } = statusSettings("monthly", "0 4 1 * *", "Asia/Singapore", 6, createdAt);
    // 04:00 in Singapore on 1 February is 20:00 UTC on 31 January.
    expect(settings.firstRuns?.monthly?.toISOString()).toBe("2026-01-31T20:00:00.000Z");
    const at = (iso: string) => assessStatus(new Date(iso), [], settings).tiers[0]!;
    expect(at("2026-01-31T20:00:00.000Z")).toMatchObject({
      state: "pending",
      pendingUntil: "2026-02-01T02:00:00.000Z",
    });
    expect(at("2026-02-01T02:00:00.000Z").state).toBe("pending");
    expect(at("2026-02-01T02:00:01.000Z").state).toBe("missing");
  });

  it("without STATUS_FIRST_RUNS (a status run by hand, an older stack) a tier without a backup is missing at once", () => {
    const settings = statusSettingsFromEnv(runnerEnvSchema.parse({ STATUS_TIERS: "daily" }));
    expect(assessStatus(new Date(), [], settings).tiers[0]!.state).toBe("missing");
  });

  it("refuses malformed stamps with exit-2 messages naming the variable", () => {
    for (const [name, value] of [
      ["STACK_CREATED_AT", "yesterday"],
      ["STACK_CREATED_AT", "2026-02-30T25:00:00.000Z"],
      ["STATUS_FIRST_RUNS", "daily=2026-01-11"],
      ["STATUS_FIRST_RUNS", "hourly=2026-01-11T18:00:00.000Z"],
      ["STATUS_FIRST_RUNS", "daily=2026-13-11T18:00:00.000Z"],
    ] as const) {
      const parsed = runnerEnvSchema.safeParse({ [name]: value });
      expect(parsed.success, `${name}=${value}`).toBe(false);
      expect(parsed.error!.issues[0]!.path).toEqual([name]);
    }
  });

  it("`status` as operators run it: PENDING and exit 0 before the first chance, MISSING and exit 1 after", async () => {
    const root = await mkdtemp(path.join(tmpdir(), "edms-first-deploy-"));
    const base = { BACKUP_DESTINATION: `file://${root}`, STATUS_TIERS: "daily,weekly", STATUS_GRACE_HOURS: "6" };
    const createdAt = new Date(Date.now() - HOUR);
    const soon = new Date(Date.now() + 5 * HOUR).toISOString();
    const early = await runRunner(["status", "--json"], {
      ...base,
      STACK_CREATED_AT: createdAt.toISOString(),
      STATUS_FIRST_RUNS: `daily=${soon},weekly=${new Date(Date.now() + 6 * DAY).toISOString()}`,
    });
    expect(early.code, early.stderr).toBe(0);
    const report = JSON.parse(early.stdout) as StatusReport;
    expect(report.healthy).toBe(true);
    expect(report.tiers.map((t) => [t.tier, t.state, t.firstRunAt])).toEqual([
      ["daily", "pending", soon],
      ["weekly", "pending", expect.any(String)],
    ]);
    const table = await runRunner(["status"], {
      ...base,
      STACK_CREATED_AT: createdAt.toISOString(),
      STATUS_FIRST_RUNS: `daily=${soon}`,
    });
    expect(table.stdout).toMatch(/daily\s+PENDING\s+\(first run /);
    expect(table.stdout).toMatch(/weekly\s+MISSING\s+/);
    expect(table.code).toBe(1);

    // The daily run was due 7 h ago (grace 6 h): missing, and the message says what to check.
    const late = await runRunner(["status"], {
      ...base,
      STATUS_TIERS: "daily",
      STACK_CREATED_AT: new Date(Date.now() - 2 * DAY).toISOString(),
      STATUS_FIRST_RUNS: `daily=${new Date(Date.now() - 7 * HOUR).toISOString()}`,
    });
    expect(late.code).toBe(1);
    expect(late.stdout).toMatch(/daily\s+MISSING\s+/);
    // A file:// destination: the advice names cron or a timer, not kubectl (issue 26 item 10).
    expect(late.stderr).toMatch(/daily has no complete backup; check whatever runs the backups into this folder/);
    expect(late.stderr).not.toMatch(/CronJob|kubectl/);
  });
});
