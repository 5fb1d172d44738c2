/**
 * The CloudWatch metrics the runner publishes and the alarms watch: names and dimensions in one
 * place, imported by both the runner and the Pulumi program (like contract.ts), so a renamed
 * metric or dimension fails the type check instead of leaving an alarm watching nothing.
 *
 * This file must stay free of runtime dependencies: the Pulumi program imports it.
 */

/** Published by `backup` when a run ends. */
export const METRIC_BACKUP_SUCCEEDED = "BackupSucceeded";
export const METRIC_BACKUP_FAILED = "BackupFailed";
export const METRIC_BACKUP_BYTES = "BackupBytes";
export const METRIC_BACKUP_DURATION = "BackupDurationSeconds";
/** Referenced media files (MEDIA_REFERENCES) the backup's archive does not hold; sent when checked. */
export const METRIC_MISSING_MEDIA_FILES = "MissingMediaFiles";
/**
 * Published by `backup` when MEDIA_REFERENCES is set, dimension App only: 1 when the reference
 * check could not run (a configured column is gone: a migration renamed it), 0 when it ran. The
 * reference-check alarm fires on a 1 and clears on the next 0 (components/alarms/alarm-rules.ts).
 */
export const METRIC_REFERENCE_CHECK_NOT_RUN = "ReferenceCheckNotRun";

/**
 * Published by `status --publish-metrics`: seconds since the newest complete backup of a tier
 * started. The per-tier alarms watch this one: a backup success metric cannot cover weekly or
 * monthly tiers, because an alarm looks back at most 7 days.
 */
export const METRIC_NEWEST_BACKUP_AGE = "NewestBackupAgeSeconds";

/** Published by `drill` when it ends: 1 passed, 0 failed or could not run (dimension App only). */
export const METRIC_DRILL_SUCCEEDED = "DrillSucceeded";
/**
 * Seconds since the last passing drill (dimension App only): 0 from a passing drill, and from
 * `status --publish-metrics` every few hours, read from the drill records, for the drill alarm.
 */
export const METRIC_LAST_PASSING_DRILL_AGE = "LastPassingDrillAgeSeconds";

/**
 * Published by `gc` (the content store's, MEDIA_FORMAT=store) when it ends, dimension App only:
 * 1 when it finished (deleted what it should, or nothing to delete), 0 when it failed or could not
 * run; `gc --dry-run` publishes nothing. The gc alarm fires on a 0, and when no 1 arrived within
 * the gc schedule's interval + the alert grace (components/media-store/store-gc-alarms.ts).
 */
export const METRIC_GC_SUCCEEDED = "GcSucceeded";

/** Dimension names (CloudWatch's own capitalised style). */
export const DIMENSION_APP = "App";
export const DIMENSION_TIER = "Tier";

/** CloudWatch limits an alarm's evaluation range (period x evaluation periods) to 7 days. */
export const MAX_ALARM_RANGE_SECONDS = 7 * 24 * 3600;
