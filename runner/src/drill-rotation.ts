/**
 * The drill CronJob rotates through the tiers week by week (daily, then weekly, then monthly), so
 * the old tiers are proven restorable too, not only the newest daily backup. A pure function of the
 * time: consecutive weekly runs are exactly 7 days apart, so they always land on consecutive
 * indexes, whatever the CronJob's time zone.
 */
import type { ScheduledTier } from "./contract.js";

const WEEK_MS = 7 * 24 * 3600 * 1000;
/** A Monday, 00:00 UTC: weeks are counted from here. */
const EPOCH_MONDAY = Date.UTC(1970, 0, 5);

export function rotationTier(now: Date, tiers: readonly ScheduledTier[]): ScheduledTier {
  if (tiers.length === 0) throw new Error("no tiers to rotate through");
  const week = Math.floor((now.getTime() - EPOCH_MONDAY) / WEEK_MS);
  return tiers[((week % tiers.length) + tiers.length) % tiers.length]!;
}
