/**
 * `prune`: applies per-tier retention to a file:// destination (on S3 the bucket's lifecycle rules
 * do it). Which sets go is decided by the pure `selectForPrune`; this file reads the destination,
 * deletes, and renders what happened.
 */
import type { BackupSet } from "../catalog/catalog.js";
import { MANIFEST_OBJECT, type Tier } from "../contract.js";
import { RunnerError, errorMessage } from "../errors.js";
import { selectForPrune, type PruneDecision, type RetentionDays } from "../catalog/retention.js";
import type { FileStore } from "../store/file-store.js";
import { formatBytes, formatDuration } from "../output/format.js";
import { alignColumns, formatTime, readBackupSets } from "./list.js";

export type PruneAction = "deleted" | "would-delete" | "kept";

/** One set as `prune --json` prints it. */
export interface PruneEntry {
  tier: Tier;
  backupId: string;
  createdAt: string;
  bytes: number;
  complete: boolean;
  action: PruneAction;
  reason: string;
}

export interface PruneReport {
  destination: string;
  checkedAt: string;
  dryRun: boolean;
  /** Who enforces retention at this destination: this command, or the bucket's lifecycle rules. */
  retentionBy: "runner" | "bucket-lifecycle";
  retentionDays: RetentionDays;
  sets: PruneEntry[];
  deletedBytes: number;
  message?: string;
}

export function s3PruneReport(
  destination: string,
  retentionDays: RetentionDays,
  dryRun: boolean,
  now: Date,
): PruneReport {
  return {
    destination,
    checkedAt: now.toISOString(),
    dryRun,
    retentionBy: "bucket-lifecycle",
    retentionDays,
    sets: [],
    deletedBytes: 0,
    message:
      `nothing to do: on ${destination} the bucket's lifecycle rules (one per tier prefix, declared by \`pulumi up\`) ` +
      "expire old backups; the RETENTION_DAYS_* variables only apply to file:// destinations, so nothing was deleted",
  };
}

/**
 * Deletes one set. The manifest goes first: if the process dies halfway, what is left has no
 * manifest, so it shows as incomplete (and the next prune removes it) instead of as a complete
 * backup whose data is gone.
 */
async function deleteSet(store: FileStore, set: BackupSet): Promise<void> {
  const keys = set.objects.map((o) => o.key);
  const manifest = keys.filter((k) => k.endsWith(`/${MANIFEST_OBJECT}`));
  await store.delete(manifest);
  await store.delete(keys.filter((k) => !manifest.includes(k)));
}

function toEntry(decision: PruneDecision, action: PruneAction): PruneEntry {
  const { set } = decision;
  return {
    tier: set.tier,
    backupId: set.backupId,
    createdAt: set.createdAt.toISOString(),
    bytes: set.bytes,
    complete: set.manifest !== undefined,
    action,
    reason: decision.reason,
  };
}

export async function runPrune(
  store: FileStore,
  options: { retentionDays: RetentionDays; dryRun: boolean; now?: Date },
): Promise<PruneReport> {
  const now = options.now ?? new Date();
  const decisions = selectForPrune(now, await readBackupSets(store), options.retentionDays);
  const sets: PruneEntry[] = [];
  let deletedBytes = 0;
  const toDelete = decisions.filter((d) => d.action === "delete").length;
  let deleted = 0;
  for (const decision of decisions) {
    if (decision.action === "keep") {
      sets.push(toEntry(decision, "kept"));
      continue;
    }
    if (options.dryRun) {
      sets.push(toEntry(decision, "would-delete"));
      continue;
    }
    try {
      await deleteSet(store, decision.set);
    } catch (error) {
      throw new RunnerError(
        `prune deleted ${deleted} of ${toDelete} backup sets, then failed on ${decision.set.tier}/${decision.set.backupId}: ${errorMessage(error)}; ` +
          `check the permissions of ${store.display} and run prune again (a half-deleted set has no manifest and is removed next time)`,
      );
    }
    deleted++;
    deletedBytes += decision.set.bytes;
    sets.push(toEntry(decision, "deleted"));
  }
  return {
    destination: store.display,
    checkedAt: now.toISOString(),
    dryRun: options.dryRun,
    retentionBy: "runner",
    retentionDays: options.retentionDays,
    sets,
    deletedBytes,
  };
}

export function renderPruneTable(report: PruneReport): string {
  if (report.message) return report.message;
  if (report.sets.length === 0) return `no backups at ${report.destination}; nothing to prune`;
  const now = Date.parse(report.checkedAt);
  const rows = report.sets.map((s) => [
    s.action.toUpperCase(),
    s.tier,
    s.backupId,
    formatDuration(Math.max(0, (now - Date.parse(s.createdAt)) / 1000)),
    formatBytes(s.bytes),
    s.reason,
  ]);
  const gone = report.sets.filter((s) => s.action !== "kept");
  const retention = Object.entries(report.retentionDays)
    .map(([tier, days]) => `${tier} ${days}d`)
    .join(", ");
  const verb = report.dryRun ? "would delete" : "deleted";
  const summary =
    `${verb} ${gone.length} of ${report.sets.length} backup sets (${formatBytes(gone.reduce((sum, s) => sum + s.bytes, 0))}) ` +
    `at ${report.destination} as of ${formatTime(report.checkedAt)}; retention: ${retention}` +
    (report.dryRun ? " (dry run: nothing was deleted)" : "");
  return `${alignColumns([["ACTION", "TIER", "BACKUP ID", "AGE", "SIZE", "REASON"], ...rows])}\n${summary}`;
}
