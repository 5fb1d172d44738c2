/**
 * Drills that are watched: each drill leaves a record under drills/ and publishes DrillSucceeded;
 * `status` reads the records and publishes the last passing drill's age, which the drill alarm
 * watches (failed, or none passed for 8 days, with the first-deploy grace); the drill CronJob
 * rotates through the tiers by week, and `drill --tier` still picks one by hand.
 */
import { mkdtemp, readdir, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { DRILL_MAX_AGE_HOURS, drillAlarmRules, STATUS_EVERY_HOURS } from "../../components/alarms/alarm-rules.js";
import { nextRuns } from "../../components/config/schedules.js";
import type { StatusReport } from "../../runner/src/commands/status.js";
import { rotationOrder, rotationTier } from "../../runner/src/drill/drill-rotation.js";
import { drillAgeMetricData, drillMetricData } from "../../runner/src/notify/metrics.js";
import { MAX_ALARM_RANGE_SECONDS } from "../../runner/src/metric-names.js";
import { assessDrill } from "../../runner/src/catalog/staleness.js";
import { mediaOnlyBackup } from "../helpers/media-only-backup.js";
import { runRunner } from "../helpers/runner-cli.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NOW = new Date("2026-03-15T12:00:00Z");
const ago = (ms: number) => new Date(NOW.getTime() - ms).toISOString();

describe("drill rotation", () => {
  it("the weekly CronJob (Sunday 06:00 Singapore) drills daily, weekly, monthly in turn, then again", () => {
    const runs = nextRuns("0 6 * * 0", "Asia/Singapore", new Date("2026-01-01T00:00:00Z"), 12);
    const tiers = runs.map((run) => rotationTier(run, ["daily", "weekly", "monthly"]));
    for (let i = 0; i < tiers.length; i += 3) {
      expect(new Set(tiers.slice(i, i + 3))).toEqual(new Set(["daily", "weekly", "monthly"]));
      expect(tiers.slice(i, i + 3)).toEqual(tiers.slice(0, 3));
    }
  });

  it("rotates through the enabled tiers only, and a daily drill schedule keeps one tier for a week", () => {
    const runs = nextRuns("0 6 * * 0", "UTC", new Date("2026-01-01T00:00:00Z"), 4);
    expect(new Set(runs.map((run) => rotationTier(run, ["daily", "monthly"])))).toEqual(new Set(["daily", "monthly"]));
    const monday = new Date("2026-03-09T00:00:00Z");
    const week = Array.from({ length: 7 }, (_, d) =>
      rotationTier(new Date(monday.getTime() + d * DAY), ["daily", "weekly"]),
    );
    expect(new Set(week).size).toBe(1);
    expect(() => rotationTier(NOW, [])).toThrow();
  });

  it("falls back in rotation order: this week's tier first, then each other tier once", () => {
    for (let d = 0; d < 21; d += 1) {
      const now = new Date(NOW.getTime() + d * DAY);
      const order = rotationOrder(now, ["daily", "weekly", "monthly"]);
      expect(order[0]).toBe(rotationTier(now, ["daily", "weekly", "monthly"]));
      expect([...order].sort()).toEqual(["daily", "monthly", "weekly"]);
    }
  });

  it("the weeks after the first deploy: with only daily backups, drill --rotate drills the newest daily, whatever this week's tier", async () => {
    const root = await mediaOnlyBackup("edms-drill-rotate-first");
    const week = rotationTier(new Date(), ["daily", "weekly", "monthly"]);
    const drill = await runRunner(["drill", "--rotate", "--json"], {
      BACKUP_DESTINATION: `file://${root}`,
      DRILL_TIERS: "daily,weekly,monthly",
    });
    expect(drill.code, drill.stderr).toBe(0);
    expect(JSON.parse(drill.stdout)).toMatchObject({ ok: true, tier: "daily" });
    if (week !== "daily") expect(drill.stderr).toContain(`no complete ${week} backup yet`);
    // A rotation with no tier that has a backup still fails, naming them.
    const none = await runRunner(["drill", "--rotate"], {
      BACKUP_DESTINATION: `file://${root}`,
      DRILL_TIERS: "weekly,monthly",
    });
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/no complete backup of tier (weekly, monthly|monthly, weekly)/);
  });
});

describe("the drill's verdict", () => {
  const settings = { maxAgeHours: 192, graceHours: 6 };
  const passed = (ms: number) => ({ finishedAt: ago(ms), ok: true });
  const failed = (ms: number) => ({ finishedAt: ago(ms), ok: false });

  it("passed within 8 days; overdue after; failed when the last one failed, whatever passed before", () => {
    expect(assessDrill(NOW, { newest: passed(7 * DAY), newestPassing: passed(7 * DAY) }, settings)).toMatchObject({
      state: "passed",
      ageSeconds: 7 * 86_400,
      alarmAgeSeconds: 7 * 86_400,
    });
    expect(assessDrill(NOW, { newest: passed(9 * DAY), newestPassing: passed(9 * DAY) }, settings).state).toBe(
      "overdue",
    );
    expect(assessDrill(NOW, { newest: failed(HOUR), newestPassing: passed(7 * DAY) }, settings)).toMatchObject({
      state: "failed",
      lastDrillOk: false,
      alarmAgeSeconds: 7 * 86_400,
    });
  });

  it("never passed: pending until its first scheduled run + grace after the first deployment, then missing", () => {
    const firstRun = new Date(NOW.getTime() - 5 * HOUR);
    expect(assessDrill(NOW, {}, { ...settings, firstRun })).toMatchObject({
      state: "pending",
      pendingUntil: new Date(firstRun.getTime() + 6 * HOUR).toISOString(),
    });
    const alarm = drillAlarmRules({ appName: "edms", namespace: "EDMS/Backup", statusEveryHours: 6 });
    // Just before and just after the first chance: the published age crosses the alarm's threshold there.
    for (const [hoursAfterRun, state] of [
      [6, "pending"],
      [6 + 1 / 3600, "missing"],
    ] as const) {
      const now = new Date(firstRun.getTime() + hoursAfterRun * HOUR);
      const drill = assessDrill(now, {}, { ...settings, firstRun });
      expect(drill.state).toBe(state);
      const points = drillAgeMetricData("edms", drill, now);
      const breaching = points.length === 0 || Number(points[0]!.Value) > alarm.overdue.threshold;
      expect(breaching).toBe(state === "missing");
    }
    expect(assessDrill(NOW, {}, settings).state).toBe("missing");
  });

  it("drill metrics: DrillSucceeded 1 and a zero age when passed, DrillSucceeded 0 alone when failed", () => {
    expect(drillMetricData("edms", true, NOW).map((d) => [d.MetricName, d.Value])).toEqual([
      ["DrillSucceeded", 1],
      ["LastPassingDrillAgeSeconds", 0],
    ]);
    expect(drillMetricData("edms", false, NOW).map((d) => [d.MetricName, d.Value, d.Dimensions])).toEqual([
      ["DrillSucceeded", 0, [{ Name: "App", Value: "edms" }]],
    ]);
  });

  it("the alarm rules: within CloudWatch's 7-day range, 8 days without a passing drill, a failure that stays until a pass", () => {
    for (const every of STATUS_EVERY_HOURS) {
      const rules = drillAlarmRules({ appName: "edms", namespace: "EDMS/Backup", statusEveryHours: every });
      expect(rules.overdue.period * rules.overdue.evaluationPeriods).toBeLessThanOrEqual(MAX_ALARM_RANGE_SECONDS);
      expect(rules.overdue).toMatchObject({ threshold: DRILL_MAX_AGE_HOURS * 3600, treatMissingData: "breaching" });
      expect(rules.failed).toMatchObject({ metricName: "DrillSucceeded", threshold: 1, treatMissingData: "ignore" });
      expect(rules.composite.alarmRule).toBe(
        'ALARM("edms-restore-drill-failed") OR ALARM("edms-restore-drill-overdue")',
      );
    }
  });
});

describe("drill records and status, as operators run them", () => {
  it("a passing drill is recorded and status is healthy; a failed one makes status exit 1 naming the drill", async () => {
    const root = await mediaOnlyBackup("edms-drill-watch");
    const env = { BACKUP_DESTINATION: `file://${root}` };
    const statusEnv = { ...env, STATUS_TIERS: "daily", STATUS_DRILL_MAX_AGE_HOURS: "192" };

    const drill = await runRunner(["drill", "--rotate"], { ...env, DRILL_TIERS: "daily" });
    expect(drill.code, drill.stderr).toBe(0);
    const records = await readdir(path.join(root, "drills"));
    expect(records).toHaveLength(1);
    expect(JSON.parse(await readFile(path.join(root, "drills", records[0]!), "utf8"))).toMatchObject({
      formatVersion: 1,
      ok: true,
      tier: "daily",
    });
    // The catalog does not mistake the records for a backup set.
    const list = await runRunner(["list", "--json"], env);
    expect((JSON.parse(list.stdout) as unknown[]).length).toBe(1);

    const healthy = await runRunner(["status", "--json"], statusEnv);
    expect(healthy.code, healthy.stderr).toBe(0);
    expect((JSON.parse(healthy.stdout) as StatusReport).drill).toMatchObject({ state: "passed", lastDrillOk: true });

    // No weekly backup: the drill cannot run, which counts as a failed drill.
    const failing = await runRunner(["drill", "--tier", "weekly"], env);
    expect(failing.code).toBe(1);
    expect(await readdir(path.join(root, "drills"))).toHaveLength(2);
    const unhealthy = await runRunner(["status"], statusEnv);
    expect(unhealthy.code).toBe(1);
    expect(unhealthy.stdout).toMatch(/^drill\s+FAILED\s+passed /m);
    expect(unhealthy.stderr).toMatch(/the last restore drill \(\S+\) FAILED/);
  });

  it("refuses --rotate together with --tier (exit 2), and a bad DRILL_TIERS", async () => {
    const root = await mkdtemp(path.join(tmpdir(), "edms-drill-watch-bad-"));
    const both = await runRunner(["drill", "--rotate", "--tier", "daily"], { BACKUP_DESTINATION: `file://${root}` });
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--rotate and --tier/);
    const bad = await runRunner(["drill", "--rotate"], { BACKUP_DESTINATION: `file://${root}`, DRILL_TIERS: "adhoc" });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/DRILL_TIERS/);
  });

  it("refuses --rotate with a backup id (exit 2, one message naming every conflict), touching nothing", async () => {
    const root = await mediaOnlyBackup("edms-drill-rotate-id");
    const env = { BACKUP_DESTINATION: `file://${root}` };
    const listed = await runRunner(["list", "--json"], env);
    const backupId = String((JSON.parse(listed.stdout) as Array<{ backupId: string }>)[0]!.backupId);
    const before = await readdir(root, { recursive: true });
    const withId = await runRunner(["drill", backupId, "--rotate"], env);
    expect(withId.code, withId.stderr).toBe(2);
    expect(withId.stderr).toContain(`--rotate and a backup id (${JSON.stringify(backupId)})`);
    expect(withId.stderr).not.toMatch(/--tier/);
    const both = await runRunner(["drill", backupId, "--rotate", "--tier", "daily"], env);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--rotate and --tier[^]*--rotate and a backup id/);
    // No drill ran, so no drill record: a refused command line is not a failed drill.
    expect(await readdir(root, { recursive: true })).toEqual(before);
    // `latest` is what the CronJob passes: it still rotates.
    const latest = await runRunner(["drill", "latest", "--rotate", "--json"], { ...env, DRILL_TIERS: "daily" });
    expect(latest.code, latest.stderr).toBe(0);
  });
});
