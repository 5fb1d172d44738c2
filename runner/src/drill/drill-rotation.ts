/**
 * The drill CronJob rotates through the tiers week by week (daily, then weekly, then monthly), so
 * the old tiers are proven restorable too, not only the newest daily backup. A pure function of the
 * time: consecutive weekly runs are exactly 7 days apart, so they always land on consecutive
 * indexes, whatever the CronJob's time zone.
 */
import type { ScheduledTier } from "../contract.js";

const WEEK_MS = 7 * 24 * 3600 * 1000;
/** A Monday, 00:00 UTC: weeks are counted from here. */
const EPOCH_MONDAY = Date.UTC(1970, 0, 5);

export function rotationTier(now: Date, tiers: readonly ScheduledTier[]): ScheduledTier {
  return rotationOrder(now, tiers)[0]!;
}

/**
 * This week's tier, then the others in the order the rotation reaches them: the drill takes the
 * first that has a complete backup, so the weeks after the first deploy (no weekly or monthly set
 * yet) drill what exists instead of failing. A tier that never gets backed up is status's alarm.
 */
export function rotationOrder(now: Date, tiers: readonly ScheduledTier[]): ScheduledTier[] {
  if (tiers.length === 0) throw new Error("no tiers to rotate through");
  const week = Math.floor((now.getTime() - EPOCH_MONDAY) / WEEK_MS);
  const first = ((week % tiers.length) + tiers.length) % tiers.length;
  return tiers.map((_, i) => tiers[(first + i) % tiers.length]!);
}
