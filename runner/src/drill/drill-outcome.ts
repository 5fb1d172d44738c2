/**
 * What a drill leaves behind for the drill alarm and `status`, and which set a rotating drill
 * takes. The drill command's own area (cli/ only parses flags and prints): the record under
 * drills/ (drill-record.ts), the DrillSucceeded metric (its data points: notify/metrics.ts), and
 * the newest set of this week's tier (drill-rotation.ts picks the tier).
 */
import { newestCompleteSets, noCompleteBackup, type CompleteBackupSet } from "../catalog/catalog.js";
import type { ScheduledTier } from "../contract.js";
import { RunnerError, errorMessage } from "../errors.js";
import { drillMetricData, putMetrics } from "../notify/metrics.js";
import type { Logger } from "../output/logger.js";
import type { RestoreSettings } from "../settings/config.js";
import type { ObjectStore } from "../store/object-store.js";
import { writeDrillRecord, type DrillMedia } from "./drill-record.js";

/** The newest complete set of this week's tier, or else of the next tier in the rotation that has one. */
export async function firstRotatingSet(
  store: ObjectStore,
  order: readonly ScheduledTier[],
  log: Logger,
): Promise<CompleteBackupSet> {
  for (const candidate of order) {
    const [newest] = await newestCompleteSets(store, candidate);
    if (!newest) continue;
    if (candidate !== order[0])
      log.warn(
        { stage: "drill", rotation: order[0], tier: candidate },
        `no complete ${order[0]} backup yet: this week's drill restores the newest ${candidate} backup instead`,
      );
    return newest;
  }
  throw new RunnerError(noCompleteBackup(store, order));
}

/**
 * For the drill alarm: a record under drills/ (status publishes the last passing one's age) and
 * the DrillSucceeded metric. Both best-effort: the drill's own result and exit code stand regardless.
 */
export async function recordDrillOutcome(
  store: ObjectStore,
  settings: RestoreSettings,
  outcome: { ok: boolean; tier?: string; backupId?: string; restoreSeconds?: number; media?: DrillMedia },
  log: Logger,
): Promise<void> {
  const finishedAt = new Date();
  await writeDrillRecord(store, {
    formatVersion: 1,
    finishedAt: finishedAt.toISOString(),
    ok: outcome.ok,
    tier: outcome.tier ?? null,
    backupId: outcome.backupId ?? null,
    // The exporter's edms_backup_drill_last_restore_seconds.
    ...(outcome.restoreSeconds !== undefined ? { restoreSeconds: outcome.restoreSeconds } : {}),
    ...(outcome.media ? { media: outcome.media } : {}),
  }).catch((error: unknown) =>
    log.warn({ stage: "notify", problem: errorMessage(error) }, "could not write the drill record"),
  );
  const namespace = settings.env.CLOUDWATCH_NAMESPACE;
  if (!namespace) return;
  await putMetrics(namespace, drillMetricData(settings.appName, outcome.ok, finishedAt)).catch((error: unknown) =>
    log.warn(
      { stage: "notify", target: "cloudwatch", namespace, problem: errorMessage(error) },
      "could not publish the drill metrics; the drill's own result is unaffected",
    ),
  );
}
