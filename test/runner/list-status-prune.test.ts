// The pure rules behind `status` and `prune` (and list's rows), with crafted sets and clocks: no
// store, no process. The CLI tests in list-status-prune-cli.test.ts cover the I/O around them.
import { describe, expect, it } from "vitest";
import { backupIdTime, newBackupId } from "../../runner/src/catalog/backup-id.js";
import type { BackupSet } from "../../runner/src/catalog/catalog.js";
import { alignColumns, listEntries } from "../../runner/src/commands/list.js";
import { formatBytes, formatDuration } from "../../runner/src/output/format.js";
import { DEFAULT_RETENTION_DAYS, SCHEDULE_INTERVAL_HOURS, type Tier } from "../../runner/src/contract.js";
import { parseManifest, type Manifest } from "../../runner/src/catalog/manifest.js";
import { retentionFromEnv, selectForPrune } from "../../runner/src/catalog/retention.js";
import { assessStatus, parseIntervalHours, statusSettingsFromEnv } from "../../runner/src/catalog/staleness.js";
import { formatIntervalHours } from "../../runner/src/contract.js";

const NOW = new Date("2026-03-15T12:00:00Z");
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** A set that started `ageMs` before NOW; complete sets carry a schema-valid manifest. */
function craft(tier: Tier, ageMs: number, complete = true, suffix = "aaaa"): BackupSet {
  const started = new Date(NOW.getTime() - ageMs);
  const backupId = newBackupId(started, () => suffix);
  const manifest: Manifest | undefined = complete
    ? // Format 1, as the first release wrote it: still read (normalised) today.
      parseManifest(
        JSON.stringify({
          formatVersion: 1,
          backupId,
          tier,
          trigger: "schedule",
          startedAt: started.toISOString(),
          finishedAt: new Date(started.getTime() + 90_000).toISOString(),
          runnerVersion: "0.1.0",
          appVersion: "49b0445",
          database: {
            key: "database.dump",
            bytes: 100,
            sha256: "a".repeat(64),
            format: "custom",
            name: "edms",
            pgDumpVersion: "16.4",
            serverVersion: "16.4",
            tables: [{ schema: "public", table: "documents", rows: 3 }],
          },
          media: null,
        }),
        "crafted",
      )
    : undefined;
  return {
    tier,
    backupId,
    createdAt: backupIdTime(backupId)!,
    objects: [{ key: `${tier}/${backupId}/database.dump`, bytes: 100, lastModified: started }],
    bytes: 100,
    ...(manifest ? { manifest } : { problem: "no manifest: the run did not finish (or is still running)" }),
  };
}

describe("status: staleness", () => {
  const intervalHours = SCHEDULE_INTERVAL_HOURS;
  const settings = { tiers: ["daily", "weekly", "monthly"] as const, intervalHours, graceHours: 6 };

  it("calls a tier fresh within interval + grace and stale after it", () => {
    const result = assessStatus(
      NOW,
      [craft("daily", 29 * HOUR), craft("weekly", 7 * DAY + 7 * HOUR), craft("monthly", 3 * DAY)],
      settings,
    );
    expect(result.checkedAt).toBe(NOW.toISOString());
    expect(result.tiers.map((t) => [t.tier, t.state])).toEqual([
      ["daily", "fresh"],
      ["weekly", "stale"],
      ["monthly", "fresh"],
    ]);
    expect(result.tiers[0]).toMatchObject({ ageSeconds: 29 * 3600, maxAgeSeconds: 30 * 3600 });
    expect(result.tiers[2]!.maxAgeSeconds).toBe((31 * 24 + 6) * 3600);
    expect(result.healthy).toBe(false);
  });

  it("is healthy when every expected tier is fresh, exactly at the limit included", () => {
    const result = assessStatus(
      NOW,
      [craft("daily", 30 * HOUR), craft("weekly", DAY), craft("monthly", 31 * DAY)],
      settings,
    );
    expect(result.tiers.every((t) => t.state === "fresh")).toBe(true);
    expect(result.healthy).toBe(true);
  });

  it("reports a tier without a complete backup as missing", () => {
    const result = assessStatus(NOW, [craft("daily", HOUR), craft("weekly", HOUR)], settings);
    expect(result.tiers[2]).toEqual({ tier: "monthly", state: "missing", maxAgeSeconds: (31 * 24 + 6) * 3600 });
    expect(result.healthy).toBe(false);
  });

  it("ignores a newer incomplete set and judges the newest complete one", () => {
    const old = craft("daily", 2 * DAY, true, "old0");
    const running = craft("daily", HOUR, false, "new0");
    const result = assessStatus(NOW, [old, running], { tiers: ["daily"], intervalHours, graceHours: 6 });
    expect(result.tiers[0]).toMatchObject({ state: "stale", newestBackupId: old.backupId, ageSeconds: 2 * 86_400 });
    // Only incomplete sets: the tier is missing, not fresh.
    expect(assessStatus(NOW, [running], { tiers: ["daily"], intervalHours, graceHours: 6 }).tiers[0]!.state).toBe(
      "missing",
    );
  });

  it("never calls adhoc stale by age, only missing, and only when listed", () => {
    expect(assessStatus(NOW, [], settings).tiers.map((t) => t.tier)).not.toContain("adhoc");
    const adhoc = { tiers: ["adhoc"] as const, intervalHours, graceHours: 6 };
    expect(assessStatus(NOW, [craft("adhoc", 900 * DAY)], adhoc).tiers[0]).toMatchObject({
      state: "fresh",
      maxAgeSeconds: null,
    });
    expect(assessStatus(NOW, [], adhoc).tiers[0]!.state).toBe("missing");
  });

  it("treats a backup a few minutes in the future (clock skew) as age 0", () => {
    expect(
      assessStatus(NOW, [craft("daily", -4 * 60_000)], { tiers: ["daily"], intervalHours, graceHours: 1 }).tiers[0],
    ).toMatchObject({ state: "fresh", ageSeconds: 0 });
  });

  it("never counts a backup more than 5 minutes in the future, and lists it", () => {
    const future = craft("daily", -HOUR, true, "ffff");
    const result = assessStatus(NOW, [craft("daily", 2 * DAY), future], {
      tiers: ["daily"],
      intervalHours,
      graceHours: 1,
    });
    expect(result.tiers[0]).toMatchObject({ state: "stale", ageSeconds: 2 * 86_400 });
    expect(result.futureSets).toEqual([
      { tier: "daily", backupId: future.backupId, startedAt: "2026-03-15T13:00:00.000Z" },
    ]);
  });

  it("reads STATUS_TIERS and STATUS_GRACE_HOURS with their defaults", () => {
    expect(statusSettingsFromEnv({})).toEqual({ tiers: ["daily", "weekly", "monthly"], intervalHours, graceHours: 6 });
    expect(statusSettingsFromEnv({ STATUS_TIERS: "adhoc,daily,daily", STATUS_GRACE_HOURS: 2 })).toEqual({
      tiers: ["daily", "adhoc"],
      intervalHours,
      graceHours: 2,
    });
  });

  it("judges each tier by the interval of its deployed schedule (STATUS_INTERVAL_HOURS)", () => {
    // Twice a day instead of daily: 13 h without a backup is stale with a 6 h grace... after 18 h.
    const twiceDaily = statusSettingsFromEnv({ STATUS_TIERS: "daily", STATUS_INTERVAL_HOURS: "daily=12" });
    expect(twiceDaily.intervalHours).toMatchObject({ daily: 12, weekly: 168, monthly: 744 });
    expect(assessStatus(NOW, [craft("daily", 17 * HOUR)], twiceDaily).tiers[0]!.state).toBe("fresh");
    expect(assessStatus(NOW, [craft("daily", 19 * HOUR)], twiceDaily).tiers[0]).toMatchObject({
      state: "stale",
      maxAgeSeconds: 18 * 3600,
    });
    expect(formatIntervalHours({ daily: 12, monthly: 743.0001 })).toBe("daily=12,monthly=743.01");
    expect(parseIntervalHours(formatIntervalHours({ daily: 12, weekly: 168 }))).toMatchObject({
      daily: 12,
      weekly: 168,
    });
  });
});

describe("prune: selection", () => {
  const retention = { daily: 7, weekly: 31, monthly: 365, adhoc: 30 };
  const actions = (sets: BackupSet[]) =>
    Object.fromEntries(selectForPrune(NOW, sets, retention).map((d) => [d.set.backupId, d.action]));

  it("deletes complete sets older than their tier's retention and keeps the rest", () => {
    const sets = [
      craft("daily", 8 * DAY, true, "d8"),
      craft("daily", 7 * DAY - HOUR, true, "d7"),
      craft("daily", HOUR, true, "d0"),
      craft("monthly", 366 * DAY, true, "m366"),
      craft("monthly", 40 * DAY, true, "m40"),
    ];
    expect(Object.values(actions(sets))).toEqual(["delete", "keep", "keep", "delete", "keep"]);
    const reasons = selectForPrune(NOW, sets, retention).map((d) => d.reason);
    expect(reasons[0]).toBe("older than the daily retention of 7 days");
  });

  it("never deletes the newest complete set of a tier, however old", () => {
    const sets = [
      craft("weekly", 90 * DAY, true, "w90"),
      craft("weekly", 60 * DAY, true, "w60"),
      craft("weekly", DAY, false, "run0"),
    ];
    const decisions = selectForPrune(NOW, sets, retention);
    expect(decisions.map((d) => d.action)).toEqual(["delete", "keep", "keep"]);
    expect(decisions[1]!.reason).toBe("newest complete weekly backup");
  });

  it("deletes incomplete sets only past max(1 day, retention), so a running backup is never touched", () => {
    const sets = [
      craft("daily", 3 * HOUR, false, "run"),
      craft("daily", 3 * DAY, false, "died3"),
      craft("daily", 8 * DAY, false, "died8"),
      craft("adhoc", 31 * DAY, false, "died31"),
    ];
    expect(Object.values(actions(sets))).toEqual(["keep", "keep", "delete", "delete"]);
    // Even with a (nonsensical) retention under a day, a young incomplete set stays.
    const short = selectForPrune(NOW, [craft("daily", 20 * HOUR, false)], { ...retention, daily: 0.5 });
    expect(short[0]).toMatchObject({
      action: "keep",
      reason: "incomplete but younger than 1 day (may still be running)",
    });
  });

  it("judges tiers independently", () => {
    const sets = [
      craft("daily", 20 * DAY, true, "d20"),
      craft("monthly", 20 * DAY, true, "m20a"),
      craft("monthly", 19 * DAY, true, "m19"),
    ];
    // d20 is the only complete daily set: kept as newest; m20a is within monthly retention.
    expect(Object.values(actions(sets))).toEqual(["keep", "keep", "keep"]);
  });

  it("reads RETENTION_DAYS_* with defaults", () => {
    expect(retentionFromEnv({})).toEqual(DEFAULT_RETENTION_DAYS);
    expect(retentionFromEnv({ RETENTION_DAYS_DAILY: 3, RETENTION_DAYS_ADHOC: 1 })).toEqual({
      ...DEFAULT_RETENTION_DAYS,
      daily: 3,
      adhoc: 1,
    });
  });
});

describe("list: rows and formatting", () => {
  it("lists newest first with stable fields", () => {
    const old = craft("daily", 2 * DAY, true, "old0");
    const running = craft("weekly", HOUR, false, "run0");
    const entries = listEntries([old, running]);
    expect(entries.map((e) => e.backupId)).toEqual([running.backupId, old.backupId]);
    expect(entries[1]).toEqual({
      backupId: old.backupId,
      tier: "daily",
      createdAt: old.manifest!.startedAt,
      finishedAt: old.manifest!.finishedAt,
      durationSeconds: 90,
      bytes: 100,
      complete: true,
      datedInFuture: false,
      latest: true,
      newestOfTier: true,
      trigger: "schedule",
      database: { bytes: 100, tables: 1, warnings: null },
      media: null,
      missingMediaFiles: null,
      appVersion: "49b0445",
    });
    expect(entries[0]).toMatchObject({
      complete: false,
      datedInFuture: false,
      problem: expect.stringMatching(/no manifest/),
      database: null,
      durationSeconds: null,
    });
  });

  it("formats sizes, durations and columns for people", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(5 * 1024 ** 3)).toBe("5.0 GiB");
    expect(formatDuration(42)).toBe("42s");
    expect(formatDuration(192)).toBe("3m 12s");
    expect(formatDuration(30 * 3600)).toBe("30h 00m");
    expect(formatDuration(7 * 86_400 + 6 * 3600)).toBe("7d 06h");
    expect(
      alignColumns([
        ["A", "BB", "C"],
        ["aaa", "b", "c"],
      ]),
    ).toBe("A    BB  C\naaa  b   c");
  });
});
