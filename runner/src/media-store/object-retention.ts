/**
 * Object Lock for content objects a backup reuses. A set's own objects (index, stat cache,
 * manifest) are written with the run's retain-until date; a content object is shared by every set
 * that references it, so its retention must reach the longest of theirs. A backup that reuses an
 * object therefore makes its retention reach this run's date: it reads the object's retention
 * (HeadObject) and, when it ends earlier, extends it (PutObjectRetention, in the object's own
 * mode, never with a governance bypass). It never shortens one: it only ever asks for a later date
 * than the store reported, and S3 refuses an earlier one anyway (COMPLIANCE always, GOVERNANCE
 * without s3:BypassGovernanceRetention, which the backup identity is denied).
 *
 * Requests: an object whose retention this run knows already reaches the date costs none. The
 * knowledge comes from the previous set's stat cache (each record carries the date its object's
 * retention was known to reach) and from this run's own uploads. An extension goes past the run's
 * date by a slack (the tier's retention, at most 31 days), so a daily backup extends a given
 * object once in about a week instead of every day; a content object is then kept at most that
 * slack longer than the sets using it need. Numbers in BENCHMARKS.md ("Object Lock").
 */
import { RunnerError, errorMessage } from "../errors.js";
import type { ObjectLockRetention, ObjectStore } from "../store/object-store.js";

const DAY_MS = 86_400_000;
/** The most an extension goes past the run's own retain-until date. */
export const LOCK_SLACK_MAX_DAYS = 31;

export interface ContentLock {
  mode: ObjectLockRetention["mode"];
  /** This run's retain-until date: every object the set references must be retained at least this long. */
  retainUntil: Date;
  /** What a new or extended content object gets: retainUntil plus the slack. */
  extendTo: Date;
}

/** The content objects' lock for a run that keeps its sets `days` days until `retainUntil`. */
export function contentLock(lock: ObjectLockRetention, days: number): ContentLock {
  const slackDays = Math.min(days, LOCK_SLACK_MAX_DAYS);
  return { ...lock, extendTo: new Date(lock.retainUntil.getTime() + slackDays * DAY_MS) };
}

export interface RetentionStats {
  /** Reused objects whose retention was read from the store (HeadObject). */
  lockCheckedObjects: number;
  /** Of those, the ones whose retention was extended (PutObjectRetention). */
  lockExtendedObjects: number;
}

export class ObjectRetention {
  readonly stats: RetentionStats = { lockCheckedObjects: 0, lockExtendedObjects: 0 };
  /**
   * Checks in flight, so two names with one content cost one check. Only in flight: memory stays
   * bounded by the transfers, and a later repeat finds the extended date with one HeadObject.
   */
  private readonly inFlight = new Map<string, Promise<number>>();

  constructor(
    private readonly store: ObjectStore,
    readonly lock: ContentLock,
  ) {}

  /**
   * Makes a reused object's retention reach this run's date. `knownMs`: a date its retention is
   * known to reach already (the previous set's stat cache), so no request is needed when that is
   * late enough. Resolves the date the object's retention is now known to reach.
   */
  ensure(objectKey: string, knownMs?: number): Promise<number> {
    if (knownMs !== undefined && knownMs >= this.lock.retainUntil.getTime()) return Promise.resolve(knownMs);
    let done = this.inFlight.get(objectKey);
    if (!done) {
      done = this.extend(objectKey).finally(() => this.inFlight.delete(objectKey));
      this.inFlight.set(objectKey, done);
    }
    return done;
  }

  private async extend(objectKey: string): Promise<number> {
    const { store, lock } = this;
    this.stats.lockCheckedObjects += 1;
    const head = await store.head(objectKey);
    if (!head)
      throw new RunnerError(
        `store object ${objectKey} is listed but gone (deleted while this backup ran?); run the backup again`,
      );
    if (head.lock && head.lock.retainUntil.getTime() >= lock.retainUntil.getTime())
      return head.lock.retainUntil.getTime();
    if (!store.setRetention) throw new RunnerError(`${store.display} has no Object Lock; unset OBJECT_LOCK_MODE`);
    // The object's own mode: COMPLIANCE cannot become GOVERNANCE, and GOVERNANCE is not turned
    // into COMPLIANCE behind the operator's back. An object stored before Object Lock was
    // configured for this stack (no retention) gets this run's mode.
    const retention = { mode: head.lock?.mode ?? lock.mode, retainUntil: lock.extendTo };
    try {
      await store.setRetention(objectKey, retention);
    } catch (error) {
      throw new RunnerError(
        `could not extend the Object Lock retention of reused ${objectKey} to ${retention.retainUntil.toISOString()} (${retention.mode}): ${errorMessage(error)}; the backup identity needs s3:PutObjectRetention and s3:GetObjectRetention on the store's objects (docs/DEPLOY.md, Object Lock)`,
        1,
        { cause: error },
      );
    }
    this.stats.lockExtendedObjects += 1;
    return lock.extendTo.getTime();
  }
}
