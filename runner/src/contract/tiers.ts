/**
 * Backup tiers and the defaults that follow from them: retention, staleness grace, triggers. Part
 * of the runner contract (../contract.ts): zod only.
 */

export const TIERS = ["daily", "weekly", "monthly", "adhoc"] as const;
export type Tier = (typeof TIERS)[number];
/** Tiers that run on a schedule; `adhoc` only runs when an operator starts it. */
export const SCHEDULED_TIERS = ["daily", "weekly", "monthly"] as const satisfies readonly Tier[];
export type ScheduledTier = (typeof SCHEDULED_TIERS)[number];

/** The tiers `status` expects fresh backups of when STATUS_TIERS is unset: the scheduled ones. */
export const DEFAULT_STATUS_TIERS: readonly Tier[] = SCHEDULED_TIERS;
/**
 * Hours past a tier's schedule interval before `status` (STATUS_GRACE_HOURS unset) and the stack's
 * alarms (`alerts.graceHours` unset) call it stale: a run takes time, a node restarts.
 */
export const DEFAULT_STATUS_GRACE_HOURS = 6;

/**
 * Retention defaults, shared by the bucket's lifecycle rules (Pulumi) and `prune` (file://):
 * with the seed's schedules they keep at least 7 daily, 4 weekly and 12 monthly backups.
 */
export const DEFAULT_RETENTION_DAYS: Readonly<Record<Tier, number>> = { daily: 7, weekly: 28, monthly: 366, adhoc: 30 };

/**
 * Unfinished multipart uploads (a run killed mid-upload: OOM killer, a drain past the grace
 * period) older than this are abandoned: the bucket's lifecycle rule aborts them on AWS, and every
 * backup run aborts those under its prefix itself (S3-compatible stores without lifecycle rules).
 * A live upload is never this old: a backup Job's activeDeadlineSeconds defaults to 4 hours.
 */
export const UNFINISHED_UPLOAD_ABORT_DAYS = 1;

export const TRIGGERS = ["schedule", "manual"] as const;
export type Trigger = (typeof TRIGGERS)[number];
