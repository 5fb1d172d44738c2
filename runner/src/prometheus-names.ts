/**
 * The Prometheus series `edms-backup exporter` serves: names, labels and help in one place, read by
 * the exporter, the stack's PrometheusRule (components/monitoring/prometheus-rules.ts) and the Grafana dashboard
 * test, so a renamed series fails the type check or a test instead of leaving an alert watching
 * nothing. Prometheus conventions: base units in the name (`_seconds`, `_bytes`,
 * `_timestamp_seconds`), `_total` for counters, labels `tier` and `component`.
 *
 * This file must stay free of runtime dependencies: the Pulumi program imports it.
 */

export const EXPORTER_PREFIX = "edms_backup_";

/** Per tier (label `tier`): the newest complete backup set. */
export const LAST_SUCCESS_TIMESTAMP = "edms_backup_last_success_timestamp_seconds";
export const LAST_SUCCESS_DURATION = "edms_backup_last_success_duration_seconds";
/** Label `component`: database (the dump as stored), media (the archive as stored), stored (every object of the set). */
export const LAST_SUCCESS_BYTES = "edms_backup_last_success_bytes";
export const LAST_SUCCESS_MEDIA_SOURCE_BYTES = "edms_backup_last_success_media_source_bytes";
export const LAST_SUCCESS_MEDIA_FILES = "edms_backup_last_success_media_files";
/** Referenced media files (MEDIA_REFERENCES) the newest set's archive lacks; absent when not checked. */
export const LAST_SUCCESS_MISSING_MEDIA_FILES = "edms_backup_last_success_missing_media_files";
export const COMPLETE_SETS = "edms_backup_complete_sets";
/** Sets without a (valid) manifest: a run still going, or one that died. */
export const INCOMPLETE_SETS = "edms_backup_incomplete_sets";
/** A scheduled tier's interval + grace (what `status` calls stale). */
export const MAX_AGE = "edms_backup_max_age_seconds";
/**
 * When a watched tier is overdue: its newest complete backup's start + interval + grace; for a
 * tier never backed up, its first scheduled run after the first deployment + grace (0 when that is
 * unknown: overdue now). The one rule `status` applies, so the alert and `status` agree.
 */
export const DEADLINE_TIMESTAMP = "edms_backup_deadline_timestamp_seconds";

/** The restore drill (no labels). */
export const DRILL_LAST_TIMESTAMP = "edms_backup_drill_last_timestamp_seconds";
/** 1 the last drill passed, 0 it failed (or could not run). */
export const DRILL_LAST_SUCCESS = "edms_backup_drill_last_success";
export const DRILL_LAST_RESTORE = "edms_backup_drill_last_restore_seconds";
export const DRILL_LAST_PASS_TIMESTAMP = "edms_backup_drill_last_pass_timestamp_seconds";
export const DRILL_MAX_AGE = "edms_backup_drill_max_age_seconds";
/** When the drill is overdue: the last passing drill + max age (first run + grace before any passed; 0 unknown). */
export const DRILL_DEADLINE_TIMESTAMP = "edms_backup_drill_deadline_timestamp_seconds";

/** Copies restores kept for an undo and not released yet (label `component`: database, media). */
export const KEPT_COPIES = "edms_backup_kept_copies";
/** Bytes of the kept media folders (a kept database's size is not recorded). */
export const KEPT_COPY_BYTES = "edms_backup_kept_copy_bytes";

/** Multipart uploads of killed runs: billed, invisible in listings. */
export const UNFINISHED_UPLOADS = "edms_backup_unfinished_uploads";
export const UNFINISHED_UPLOAD_BYTES = "edms_backup_unfinished_upload_bytes";

/**
 * The media store (no labels; absent without one): content objects under store/objects/ and their
 * bytes; the bytes of the objects the newest complete store set references; the media bytes all
 * complete store sets hold (their files' bytes); the dedup ratio, the latter over the stored bytes.
 */
export const STORE_OBJECTS = "edms_backup_store_objects";
export const STORE_STORED_BYTES = "edms_backup_store_stored_bytes";
export const STORE_NEWEST_SET_BYTES = "edms_backup_store_newest_set_bytes";
export const STORE_SETS_SOURCE_BYTES = "edms_backup_store_sets_source_bytes";
export const STORE_DEDUP_RATIO = "edms_backup_store_dedup_ratio";
/**
 * The media store's last finished gc (from its record; absent before the first): when it finished,
 * what it deleted, the unreferenced objects it left (within the grace or locked), and of those the
 * ones under Object Lock.
 */
export const STORE_GC_LAST_TIMESTAMP = "edms_backup_store_gc_last_timestamp_seconds";
export const STORE_GC_DELETED_BYTES = "edms_backup_store_gc_deleted_bytes";
export const STORE_GC_CANDIDATES = "edms_backup_store_gc_candidates";
export const STORE_GC_LOCKED = "edms_backup_store_gc_locked";

/** The exporter itself (label `source`: one per reading of the destination, see exporter/sources.ts). */
export const SCRAPE_ERRORS = "edms_backup_exporter_scrape_errors_total";
export const LAST_REFRESH_TIMESTAMP = "edms_backup_exporter_last_refresh_timestamp_seconds";
export const REFRESH_DURATION = "edms_backup_exporter_refresh_duration_seconds";

/** The sources the exporter reads, each refreshed (and failing) on its own. */
export const EXPORTER_SOURCES = ["backup_sets", "drills", "kept_copies", "unfinished_uploads", "media_store"] as const;
export type ExporterSourceName = (typeof EXPORTER_SOURCES)[number];
