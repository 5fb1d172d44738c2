/**
 * Which backup sets `prune` removes from a file:// destination: the same per-tier retention that
 * the bucket's lifecycle rules apply on S3, plus two safety rules S3 cannot express. A pure
 * function of (now, sets, retention), so every rule is unit-tested with crafted sets.
 */
import {
  DEFAULT_RETENTION_DAYS,
  perTier,
  retentionEnvName,
  TIERS,
  type ParsedRunnerEnv,
  type RetentionEnvName,
  type Tier,
} from "../contract.js";
import { isComplete, isDatedInFuture, newestUsable, type BackupSet } from "./catalog.js";

const DAY_MS = 86_400_000;

/**
 * An incomplete set younger than this may be a backup that is still running (the manifest comes
 * last), so it is never touched, whatever the tier's retention.
 */
export const INCOMPLETE_MIN_AGE_DAYS = 1;

export type RetentionDays = Record<Tier, number>;

/** RETENTION_DAYS_* (already validated by the contract) with their defaults. */
export function retentionFromEnv(env: Pick<ParsedRunnerEnv, RetentionEnvName>): RetentionDays {
  return perTier(TIERS, (tier) => env[retentionEnvName(tier)] ?? DEFAULT_RETENTION_DAYS[tier]);
}

export interface PruneDecision {
  set: BackupSet;
  action: "delete" | "keep";
  /** Age from the time in the backup id (the same for complete and incomplete sets). */
  ageDays: number;
  reason: string;
}

function days(n: number): string {
  return `${n} day${n === 1 ? "" : "s"}`;
}

/**
 * One decision per set, in the order given. Age comes from the backup id, not file times: copying
 * or touching a folder must not make an old backup look new (or the other way round).
 */
export function selectForPrune(now: Date, sets: readonly BackupSet[], retention: RetentionDays): PruneDecision[] {
  // The newest set of each tier (catalog.ts's one rule, the set `latest` takes) survives even past
  // retention: if the schedule stopped, pruning must not leave the tier with nothing to restore. A
  // set dated in the future is never that set, so it cannot shield the tier while the usable ones go.
  const newestComplete = new Map<Tier, BackupSet | undefined>();
  for (const set of sets)
    if (!newestComplete.has(set.tier)) newestComplete.set(set.tier, newestUsable(sets, now, [set.tier]));

  return sets.map((set): PruneDecision => {
    const ageMs = now.getTime() - set.createdAt.getTime();
    const ageDays = ageMs / DAY_MS;
    const keepDays = retention[set.tier];
    if (!isComplete(set)) {
      const limit = Math.max(INCOMPLETE_MIN_AGE_DAYS, keepDays);
      return ageMs > limit * DAY_MS
        ? { set, action: "delete", ageDays, reason: `incomplete and older than ${days(limit)}` }
        : { set, action: "keep", ageDays, reason: `incomplete but younger than ${days(limit)} (may still be running)` };
    }
    if (newestComplete.get(set.tier) === set) {
      return { set, action: "keep", ageDays, reason: `newest complete ${set.tier} backup` };
    }
    if (isDatedInFuture(set, now)) {
      // Its age is unknown (a wrong clock, a copied set): not old enough to delete, never the newest.
      return {
        set,
        action: "keep",
        ageDays,
        reason: "dated in the future (a wrong clock or a copied set); never counted as the newest",
      };
    }
    return ageMs > keepDays * DAY_MS
      ? { set, action: "delete", ageDays, reason: `older than the ${set.tier} retention of ${days(keepDays)}` }
      : { set, action: "keep", ageDays, reason: `within the ${set.tier} retention of ${days(keepDays)}` };
  });
}
