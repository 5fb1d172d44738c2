/**
 * Is each expected tier backed up recently enough? A pure function of (now, sets, settings), so
 * the rules are unit-tested with crafted timestamps and `status` only adds I/O around it.
 */
import {
  DEFAULT_STATUS_GRACE_HOURS,
  DEFAULT_STATUS_TIERS,
  SCHEDULE_INTERVAL_HOURS,
  TIERS,
  type ParsedRunnerEnv,
  type Tier,
} from "../contract.js";
import { isDatedInFuture, newestUsable, type BackupSet } from "./catalog.js";

const HOUR_S = 3600;

export interface StatusSettings {
  /** Tiers that must have a fresh complete backup. */
  tiers: readonly Tier[];
  /** Each tier's schedule interval in hours (null: no schedule, never stale by age). */
  intervalHours: Readonly<Record<Tier, number | null>>;
  /** Slack past a tier's interval before it counts as stale (a run takes time, a node restarts). */
  graceHours: number;
  /**
   * Each tier's first scheduled run after the stack was first deployed (STATUS_FIRST_RUNS). A tier
   * without one never had a chance to run only by accident: it is missing as soon as it has no backup.
   */
  firstRuns?: Partial<Record<Tier | "drill", Date>>;
  /** Watch the restore drill too: the last passing drill may be at most this old (STATUS_DRILL_MAX_AGE_HOURS). */
  drillMaxAgeHours?: number;
}

/** pending: never backed up, but its first scheduled run plus the grace has not passed yet. */
export type TierState = "fresh" | "stale" | "missing" | "pending";

export interface TierStatus {
  tier: Tier;
  state: TierState;
  newestBackupId?: string;
  /** When the newest complete backup started (ISO). */
  newestAt?: string;
  ageSeconds?: number;
  /** Referenced media files the newest backup lacks (MEDIA_REFERENCES); absent when not checked. */
  missingMediaFiles?: number;
  /** pg_dump's warnings when the newest set was made (absent when none or not recorded). */
  dumpWarnings?: number;
  /** Interval + grace; null for a tier without a schedule (ad-hoc), which is never stale by age. */
  maxAgeSeconds: number | null;
  /** A pending tier's first scheduled run (ISO), and when it turns missing: that run + grace. */
  firstRunAt?: string;
  pendingUntil?: string;
  /**
   * The age `status --publish-metrics` reports for the tier's alarm: the newest backup's age, or
   * for a pending tier its age since the never-ran baseline (see neverRanBaseline), so the alarm
   * (age > maxAge) and `status` change their minds at the same second. Unset for a missing tier:
   * no data point, which the alarm treats as breaching.
   */
  alarmAgeSeconds?: number;
}

export interface FutureSet {
  tier: Tier;
  backupId: string;
  /** When the set says it started (ISO). */
  startedAt: string;
}

export interface StatusResult {
  checkedAt: string;
  healthy: boolean;
  tiers: TierStatus[];
  /** Sets dated more than 5 minutes after checkedAt (clock skew, a copied set): never counted. */
  futureSets: FutureSet[];
}

/** STATUS_TIERS / STATUS_GRACE_HOURS (already validated by the contract) with their defaults. */
export function statusSettingsFromEnv(
  env: Pick<
    ParsedRunnerEnv,
    "STATUS_TIERS" | "STATUS_GRACE_HOURS" | "STATUS_INTERVAL_HOURS" | "STATUS_FIRST_RUNS" | "STATUS_DRILL_MAX_AGE_HOURS"
  >,
): StatusSettings {
  const listed = env.STATUS_TIERS ? env.STATUS_TIERS.split(",") : DEFAULT_STATUS_TIERS;
  // Keep the contract's tier order and drop repeats, so the output does not depend on how the list was typed.
  const tiers = TIERS.filter((tier) => listed.includes(tier));
  return {
    tiers,
    intervalHours: parseIntervalHours(env.STATUS_INTERVAL_HOURS),
    graceHours: env.STATUS_GRACE_HOURS ?? DEFAULT_STATUS_GRACE_HOURS,
    ...(env.STATUS_FIRST_RUNS ? { firstRuns: parseFirstRuns(env.STATUS_FIRST_RUNS) } : {}),
    ...(env.STATUS_DRILL_MAX_AGE_HOURS ? { drillMaxAgeHours: env.STATUS_DRILL_MAX_AGE_HOURS } : {}),
  };
}

/**
 * First runs no schedule could produce: a tier's first scheduled run after any deployment is at
 * most one interval (the drill: its max age) after now, and the grace is the slack on top. A date
 * later than that (a typo'd year, a copied value) would keep the tier "pending", and its alarm
 * quiet, until then; refused as bad input instead. One problem per entry, for ConfigError.
 */
export function firstRunProblems(settings: StatusSettings, now: Date): string[] {
  const problems: string[] = [];
  for (const [name, at] of Object.entries(settings.firstRuns ?? {}) as [Tier | "drill", Date][]) {
    const interval = name === "drill" ? (settings.drillMaxAgeHours ?? 7 * 24) : settings.intervalHours[name];
    if (interval === null) continue; // no schedule (ad-hoc): its first run is never used
    const latest = now.getTime() + (interval + settings.graceHours) * HOUR_S * 1000;
    if (at.getTime() > latest)
      problems.push(
        `STATUS_FIRST_RUNS: ${name}=${at.toISOString()} is later than its first scheduled run can be ` +
          `(now + ${interval} h ${name === "drill" ? "max age" : "interval"} + ${settings.graceHours} h grace = ${new Date(latest).toISOString()}); ` +
          `it would keep ${name} "pending" until then; give the first scheduled run after the deployment (the stack writes it)`,
      );
  }
  return problems;
}

/** "daily=2026-01-12T18:00:00.000Z,..." (already validated by the contract); "drill" is the restore drill. */
export function parseFirstRuns(value: string | undefined): Partial<Record<Tier | "drill", Date>> {
  const runs: Partial<Record<Tier | "drill", Date>> = {};
  for (const pair of value ? value.split(",") : []) {
    const at = pair.indexOf("=");
    runs[pair.slice(0, at) as Tier | "drill"] = new Date(pair.slice(at + 1));
  }
  return runs;
}

/**
 * The first-deploy grace, one rule for `status`, the metrics it publishes and the alarms that
 * watch them: something that never succeeded yet counts as if its last success had been at
 * `firstRun + grace - maxAge`. Its age therefore passes maxAge (the alarm's threshold) exactly when
 * its first scheduled run plus the grace has passed, and not a second before: no alarm before the
 * first chance to run, missing data breaching after it. For a backup tier (maxAge = interval +
 * grace) the baseline is one interval before the first run.
 */
export function neverRanBaseline(firstRun: Date, graceSeconds: number, maxAgeSeconds: number): Date {
  return new Date(firstRun.getTime() + (graceSeconds - maxAgeSeconds) * 1000);
}

/** Whole seconds from `from` to `now`; never negative (clock skew between hosts). */
export function ageSeconds(now: Date, from: Date): number {
  return Math.max(0, Math.floor((now.getTime() - from.getTime()) / 1000));
}

/** "daily=24,weekly=168" (already validated by the contract) over the defaults. */
export function parseIntervalHours(value: string | undefined): Record<Tier, number | null> {
  const hours: Record<Tier, number | null> = { ...SCHEDULE_INTERVAL_HOURS };
  for (const pair of value ? value.split(",") : []) {
    const [tier, h] = pair.split("=") as [Tier, string];
    hours[tier] = Number(h);
  }
  return hours;
}

/** When a complete set's run started: the manifest's own clock, which the id was derived from. */
export function startedAt(set: BackupSet): Date {
  return set.manifest ? new Date(set.manifest.startedAt) : set.createdAt;
}

export function assessStatus(now: Date, sets: readonly BackupSet[], settings: StatusSettings): StatusResult {
  const tiers = settings.tiers.map((tier): TierStatus => {
    const interval = settings.intervalHours[tier];
    const maxAgeSeconds = interval === null ? null : (interval + settings.graceHours) * HOUR_S;
    // catalog.ts's one rule: incomplete sets (a run still going, or dead) and sets dated in the future never count.
    const newest = newestUsable(sets, now, [tier]);
    const firstRun = settings.firstRuns?.[tier];
    if (!newest) {
      if (!firstRun || maxAgeSeconds === null) return { tier, state: "missing", maxAgeSeconds };
      const graceSeconds = settings.graceHours * HOUR_S;
      const alarmAgeSeconds = ageSeconds(now, neverRanBaseline(firstRun, graceSeconds, maxAgeSeconds));
      if (alarmAgeSeconds > maxAgeSeconds) return { tier, state: "missing", maxAgeSeconds };
      return {
        tier,
        state: "pending",
        maxAgeSeconds,
        firstRunAt: firstRun.toISOString(),
        pendingUntil: new Date(firstRun.getTime() + graceSeconds * 1000).toISOString(),
        alarmAgeSeconds,
      };
    }
    const at = startedAt(newest);
    // A backup a few minutes "from the future" (ordinary skew between hosts) is as fresh as it gets.
    const age = ageSeconds(now, at);
    const state: TierState = maxAgeSeconds !== null && age > maxAgeSeconds ? "stale" : "fresh";
    const missingMediaFiles = newest.manifest?.media?.references?.missing;
    const dumpWarnings = newest.manifest?.database?.warningCount;
    return {
      tier,
      state,
      newestBackupId: newest.backupId,
      newestAt: at.toISOString(),
      ageSeconds: age,
      maxAgeSeconds,
      alarmAgeSeconds: age,
      ...(missingMediaFiles !== undefined ? { missingMediaFiles } : {}),
      ...(dumpWarnings ? { dumpWarnings } : {}),
    };
  });
  const futureSets = sets
    .filter((set) => isDatedInFuture(set, now))
    .map((set) => ({ tier: set.tier, backupId: set.backupId, startedAt: startedAt(set).toISOString() }));
  return { checkedAt: now.toISOString(), healthy: tiers.every((t) => isHealthy(t.state)), tiers, futureSets };
}

/** Fresh, or not due yet: nothing for anyone to do. */
export function isHealthy(state: TierState): boolean {
  return state === "fresh" || state === "pending";
}

/**
 * The restore drill, judged like a tier: `passed` (the last drill passed, the last passing one is
 * recent enough), `failed` (the last drill failed), `overdue` (no passing drill for maxAge),
 * `pending` (never passed, but its first scheduled run + grace after the first deployment has not
 * come yet: the same never-ran rule as the tiers) or `missing`.
 */
export type DrillState = "passed" | "failed" | "overdue" | "pending" | "missing";

export interface DrillStatus {
  state: DrillState;
  lastDrillAt?: string;
  lastDrillOk?: boolean;
  lastPassedAt?: string;
  ageSeconds?: number;
  maxAgeSeconds: number;
  firstRunAt?: string;
  pendingUntil?: string;
  /** What status publishes as LastPassingDrillAgeSeconds; unset = no data point (breaching). */
  alarmAgeSeconds?: number;
}

export function assessDrill(
  now: Date,
  history: { newest?: { finishedAt: string; ok: boolean }; newestPassing?: { finishedAt: string } },
  s: { maxAgeHours: number; graceHours: number; firstRun?: Date },
): DrillStatus {
  const maxAgeSeconds = s.maxAgeHours * HOUR_S;
  const last = history.newest
    ? { lastDrillAt: history.newest.finishedAt, lastDrillOk: history.newest.ok }
    : ({} as Record<string, never>);
  let judged: DrillStatus;
  if (history.newestPassing) {
    const age = ageSeconds(now, new Date(history.newestPassing.finishedAt));
    judged = {
      state: age > maxAgeSeconds ? "overdue" : "passed",
      lastPassedAt: history.newestPassing.finishedAt,
      ageSeconds: age,
      maxAgeSeconds,
      alarmAgeSeconds: age,
    };
  } else {
    const graceSeconds = s.graceHours * HOUR_S;
    const alarmAgeSeconds = s.firstRun
      ? ageSeconds(now, neverRanBaseline(s.firstRun, graceSeconds, maxAgeSeconds))
      : undefined;
    judged =
      s.firstRun && alarmAgeSeconds !== undefined && alarmAgeSeconds <= maxAgeSeconds
        ? {
            state: "pending",
            maxAgeSeconds,
            firstRunAt: s.firstRun.toISOString(),
            pendingUntil: new Date(s.firstRun.getTime() + graceSeconds * 1000).toISOString(),
            alarmAgeSeconds,
          }
        : { state: "missing", maxAgeSeconds };
  }
  // A failed last drill wins: the newest backup (of that tier) could not be restored.
  if (history.newest && !history.newest.ok) judged = { ...judged, state: "failed" };
  return { ...judged, ...last };
}

export function isDrillHealthy(state: DrillState): boolean {
  return state === "passed" || state === "pending";
}
