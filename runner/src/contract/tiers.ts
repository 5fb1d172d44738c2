/**
 * Backup tiers and every fact about them, in one table: retention, schedule, default cron, what a
 * run of the tier does differently. Everything else that knows about tiers (the lists, the
 * defaults, the env names RETENTION_DAYS_*, the messages that list tiers, the stack's schedules,
 * the first-deploy order, the drill's default rotation) is derived from TIER_TABLE below, so adding
 * a tier is one row here (test/runner/tier-table.test.ts fails when a tier name is written
 * anywhere else). Part of the runner contract (../contract.ts): zod only.
 */

interface TierRow {
  /** How messages name the tier when it differs from its name ("ad-hoc"). */
  prose?: string;
  /**
   * Retention default in days, shared by the bucket's lifecycle rules (Pulumi) and `prune`
   * (file://): with the default schedules they keep at least 7 daily, 4 weekly and 12 monthly backups.
   */
  retentionDays: number;
  /**
   * null: the tier only runs when an operator starts it (its CronJob is suspended, its trigger
   * "manual"); it cannot be late, only missing. Otherwise `cron` is the stack's default schedule
   * and `intervalHours` the longest gap between its runs, which `status` uses when the stack did
   * not pass STATUS_INTERVAL_HOURS (test/components/stack-config.test.ts checks the two agree).
   */
  schedule: { cron: string; intervalHours: number } | null;
  /** Store format: the run reads every media file, ignoring the previous set's stat cache (as --rehash). */
  rehashesMedia?: true;
}

/**
 * The default schedules are the seed's Celery beat schedule (Asia/Singapore): daily 02:00, Sunday
 * 03:00, the 1st at 04:00. Monthly's interval is 31 days, the longest month, so a run on the 1st is
 * never called stale before the next 1st. The order of the rows is the order tiers are listed in.
 */
export const TIER_TABLE = {
  daily: { retentionDays: 7, schedule: { cron: "0 2 * * *", intervalHours: 24 } },
  weekly: { retentionDays: 28, schedule: { cron: "0 3 * * 0", intervalHours: 7 * 24 } },
  monthly: { retentionDays: 366, schedule: { cron: "0 4 1 * *", intervalHours: 31 * 24 }, rehashesMedia: true },
  adhoc: { prose: "ad-hoc", retentionDays: 30, schedule: null },
} as const satisfies Record<string, TierRow>;

export type Tier = keyof typeof TIER_TABLE;
/** Tiers that run on a schedule; the others only run when an operator starts them. */
export type ScheduledTier = { [T in Tier]: (typeof TIER_TABLE)[T]["schedule"] extends null ? never : T }[Tier];

const rows = Object.entries(TIER_TABLE) as [Tier, TierRow][];

export const TIERS = rows.map(([tier]) => tier) as [Tier, ...Tier[]];
export const SCHEDULED_TIERS = rows.filter(([, row]) => row.schedule !== null).map(([tier]) => tier) as [
  ScheduledTier,
  ...ScheduledTier[],
];

/**
 * The tier of what no schedule made: an operator's ad-hoc backup (its suspended CronJob), an
 * imported archive, a set read straight from an archive. `latest` never picks it.
 */
export const MANUAL_TIER = "adhoc" satisfies Tier;

export function isScheduledTier(tier: string): tier is ScheduledTier {
  return (SCHEDULED_TIERS as readonly string[]).includes(tier);
}

/** How a message names the tier ("ad-hoc" for adhoc). */
export function tierProse(tier: Tier): string {
  return (TIER_TABLE[tier] as TierRow).prose ?? tier;
}

/** Store format: does a run of this tier read every media file (the monthly tier does)? */
export function rehashesMedia(tier: Tier): boolean {
  return (TIER_TABLE[tier] as TierRow).rehashesMedia === true;
}

/** The tiers whose runs read every media file, for messages ("monthly"). */
export const REHASH_TIERS: readonly Tier[] = TIERS.filter(rehashesMedia);

/** The same value for each of `tiers`, keyed by tier (a zod shape, a record of defaults). */
export function perTier<T extends Tier, V>(tiers: readonly T[], value: (tier: T) => V): Record<T, V> {
  return Object.fromEntries(tiers.map((tier) => [tier, value(tier)])) as Record<T, V>;
}

/** The tiers `status` expects fresh backups of when STATUS_TIERS is unset: the scheduled ones. */
export const DEFAULT_STATUS_TIERS: readonly Tier[] = SCHEDULED_TIERS;
/** The tiers `drill --rotate` rotates through when DRILL_TIERS is unset: the scheduled ones. */
export const DEFAULT_DRILL_TIERS: readonly ScheduledTier[] = SCHEDULED_TIERS;
/**
 * Hours past a tier's schedule interval before `status` (STATUS_GRACE_HOURS unset) and the stack's
 * alarms (`alerts.graceHours` unset) call it stale: a run takes time, a node restarts.
 */
export const DEFAULT_STATUS_GRACE_HOURS = 6;

/** Retention defaults in days (TIER_TABLE's retentionDays). */
export const DEFAULT_RETENTION_DAYS: Readonly<Record<Tier, number>> = perTier(
  TIERS,
  (tier) => TIER_TABLE[tier].retentionDays,
);
/** The stack's default CronJob schedule of each scheduled tier. */
export const DEFAULT_SCHEDULES: Readonly<Record<ScheduledTier, string>> = perTier(
  SCHEDULED_TIERS,
  (tier) => TIER_TABLE[tier].schedule.cron,
);
/** How often each tier runs, in hours; null for a tier without a schedule (never stale by age). */
export const SCHEDULE_INTERVAL_HOURS: Readonly<Record<Tier, number | null>> = perTier(
  TIERS,
  (tier) => (TIER_TABLE[tier] as TierRow).schedule?.intervalHours ?? null,
);

/** The env variable that overrides a tier's retention for `prune` (RETENTION_DAYS_DAILY, ...). */
export type RetentionEnvName = `RETENTION_DAYS_${Uppercase<Tier>}`;
export function retentionEnvName(tier: Tier): RetentionEnvName {
  return `RETENTION_DAYS_${tier.toUpperCase()}` as RetentionEnvName;
}

/**
 * Unfinished multipart uploads (a run killed mid-upload: OOM killer, a drain past the grace
 * period) older than this are abandoned: the bucket's lifecycle rule aborts them on AWS, and every
 * backup run aborts those under its prefix itself (S3-compatible stores without lifecycle rules).
 * A live upload is never this old: a backup Job's activeDeadlineSeconds defaults to 4 hours.
 */
export const UNFINISHED_UPLOAD_ABORT_DAYS = 1;

export const TRIGGERS = ["schedule", "manual"] as const;
export type Trigger = (typeof TRIGGERS)[number];

/** Who starts a run of this tier: its CronJob's schedule, or an operator (a tier without one). */
export function tierTrigger(tier: Tier): Trigger {
  return isScheduledTier(tier) ? "schedule" : "manual";
}
