/**
 * Unfinished multipart uploads: what a run killed mid-upload (SIGKILL from the OOM killer, a node
 * drain past the grace period) leaves in a bucket. Object listings do not show them, yet their
 * parts are billed. `status` and `list` report them; every backup run aborts those older than
 * UNFINISHED_UPLOAD_ABORT_DAYS under its prefix, as the bucket's lifecycle rule does on AWS
 * (S3-compatible stores may have no lifecycle rules). Only keys of the runner's own layout
 * (`<tier>/<backupId>/<object>`) are counted or touched. The rules are pure; the I/O is the store's.
 */
import { setOfKey } from "./catalog.js";
import { UNFINISHED_UPLOAD_ABORT_DAYS } from "../contract.js";
import { errorMessage } from "../errors.js";
import { formatBytes, formatDuration } from "../output/format.js";
import type { Logger } from "../output/logger.js";
import type { ObjectStore, UnfinishedUpload } from "../store/object-store.js";

export const UNFINISHED_UPLOAD_ABORT_SECONDS = UNFINISHED_UPLOAD_ABORT_DAYS * 86_400;
const ABORT_AGE = `${UNFINISHED_UPLOAD_ABORT_DAYS} day${UNFINISHED_UPLOAD_ABORT_DAYS === 1 ? "" : "s"}`;

/** What `status --json` prints as `unfinishedUploads` (field names are a stable interface). */
export interface UnfinishedUploadsSummary {
  count: number;
  /** Bytes held by the uploads' parts. */
  bytes: number;
  /** Age of the oldest upload, by the store's initiation time and this machine's clock; null when none. */
  oldestAgeSeconds: number | null;
}

/** The report's fields: absent for stores without multipart uploads (file://). */
export interface UnfinishedUploadsReport {
  unfinishedUploads?: UnfinishedUploadsSummary;
  /** Why they could not be looked for (a denied listing, ...); the report is otherwise complete. */
  unfinishedUploadsProblem?: string;
}

function ageSeconds(upload: UnfinishedUpload, now: Date): number {
  // A store clock a little ahead of ours makes a fresh upload look younger than zero.
  return Math.max(0, Math.floor((now.getTime() - upload.initiated.getTime()) / 1000));
}

/** Uploads of the runner's own layout; anything else under the prefix is not its business. */
export function ownUploads(uploads: readonly UnfinishedUpload[]): UnfinishedUpload[] {
  return uploads.filter((u) => setOfKey(u.key) !== undefined);
}

export function summarizeUploads(uploads: readonly UnfinishedUpload[], now: Date): UnfinishedUploadsSummary {
  const own = ownUploads(uploads);
  return {
    count: own.length,
    bytes: own.reduce((sum, u) => sum + u.bytes, 0),
    oldestAgeSeconds: own.length ? Math.max(...own.map((u) => ageSeconds(u, now))) : null,
  };
}

/** Own uploads strictly older than the abort age: abandoned, never a live run's (see the contract). */
export function expiredUploads(uploads: readonly UnfinishedUpload[], now: Date): UnfinishedUpload[] {
  return ownUploads(uploads).filter((u) => ageSeconds(u, now) > UNFINISHED_UPLOAD_ABORT_SECONDS);
}

/** For `status` and `list`: the summary, or why it is missing; nothing for a folder. */
export async function checkUnfinishedUploads(store: ObjectStore, now: Date): Promise<UnfinishedUploadsReport> {
  if (!store.listUnfinishedUploads) return {};
  try {
    return { unfinishedUploads: summarizeUploads(await store.listUnfinishedUploads({ sizes: true }), now) };
  } catch (error) {
    return { unfinishedUploadsProblem: `could not look for unfinished multipart uploads: ${errorMessage(error)}` };
  }
}

/** The human line of `status` and `list`: nothing when there is nothing to say. */
export function unfinishedUploadsLines(report: UnfinishedUploadsReport, destination: string): string[] {
  if (report.unfinishedUploadsProblem) return [`WARNING: ${report.unfinishedUploadsProblem}`];
  const u = report.unfinishedUploads;
  if (!u?.count) return [];
  return [
    `WARNING: ${u.count} unfinished multipart upload${u.count === 1 ? "" : "s"} (runs killed mid-upload) under ${destination} ` +
      `hold ${formatBytes(u.bytes)}, the oldest started ${formatDuration(u.oldestAgeSeconds ?? 0)} ago; ` +
      `the next backup aborts those older than ${ABORT_AGE} (docs/RUNBOOK.md)`,
  ];
}

/**
 * A backup run's housekeeping: aborts its prefix's expired uploads. It never fails the backup: a
 * store that refuses (no permission, no support) gets one warning naming what was left.
 */
export async function sweepExpiredUploads(store: ObjectStore, now: Date, log: Logger): Promise<void> {
  if (!store.listUnfinishedUploads || !store.abortUpload) return;
  const advice = `the backup goes on; the bucket's lifecycle rule aborts them on AWS, elsewhere see docs/RUNBOOK.md (unfinished uploads)`;
  let expired: UnfinishedUpload[];
  try {
    expired = expiredUploads(await store.listUnfinishedUploads({ sizes: false }), now);
  } catch (error) {
    log.warn(
      { stage: "sweep", error: errorMessage(error) },
      `could not look for unfinished multipart uploads older than ${ABORT_AGE} under ${store.display}; ${advice}`,
    );
    return;
  }
  const aborted: string[] = [];
  const failures: string[] = [];
  for (const upload of expired) {
    try {
      await store.abortUpload(upload);
      aborted.push(upload.key);
    } catch (error) {
      failures.push(errorMessage(error));
    }
  }
  if (aborted.length)
    log.info(
      { stage: "sweep", aborted: aborted.length, keys: aborted.slice(0, 10) },
      `aborted ${aborted.length} unfinished multipart upload(s) older than ${ABORT_AGE} under ${store.display}`,
    );
  if (failures.length)
    log.warn(
      { stage: "sweep", failed: failures.length, error: failures[0] },
      `could not abort ${failures.length} of ${expired.length} unfinished multipart upload(s) older than ${ABORT_AGE} under ${store.display}; ${advice}`,
    );
}
