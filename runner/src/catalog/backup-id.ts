import { randomBytes } from "node:crypto";

/**
 * Backup ids sort by time as plain strings (UTC, second precision) and carry a random suffix, so
 * two runs in the same second never collide: `20260111T144748Z-3f9a`.
 */
export function newBackupId(
  now: Date = new Date(),
  random: () => string = () => randomBytes(2).toString("hex"),
): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}Z$/, "Z");
  return `${stamp}-${random()}`;
}

const BACKUP_ID = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z-[0-9a-z]+$/;

export function isBackupId(value: string): boolean {
  return BACKUP_ID.test(value);
}

/** The creation time encoded in a backup id, or undefined for a name that is not one. */
export function backupIdTime(id: string): Date | undefined {
  const m = BACKUP_ID.exec(id);
  if (!m) return undefined;
  return new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
}

/**
 * The id of one restore or drill run, shaped like a backup id (it sorts by time and tells when
 * the run started) with more randomness: it names the run's staging and previous copies.
 */
export function newRunId(now: Date = new Date()): string {
  return newBackupId(now, () => randomBytes(3).toString("hex"));
}

/**
 * A record's id, a backup id carrying the time to the millisecond (`20261207T051300.123Z-ab12`):
 * with whole seconds, two records of one second sorted by their random suffix, so the newest
 * could be taken for an older one (drill and gc records).
 */
export function newMillisecondId(at: Date): string {
  const millis = String(at.getUTCMilliseconds()).padStart(3, "0");
  return newBackupId(at).replace(/Z-/, `.${millis}Z-`);
}
