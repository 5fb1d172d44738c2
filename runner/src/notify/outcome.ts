/**
 * What a backup run ended with, in the one shape every notifier reads (webhook, healthcheck,
 * metrics). Built from the manifest on success and from the error on failure; never a secret.
 */
import type { Tier } from "../contract.js";
import type { Manifest } from "../catalog/manifest.js";

export interface RunOutcome {
  app: string;
  /** Unknown only when the run failed before its settings were valid. */
  tier?: Tier | string;
  /** Unknown when the run failed before it picked an id. */
  backupId?: string;
  status: "success" | "failure";
  startedAt: string;
  finishedAt: string;
  durationSeconds: number;
  databaseBytes?: number;
  mediaBytes?: number;
  totalBytes?: number;
  mediaFiles?: number;
  tables?: number;
  /** Referenced media files the archive does not hold (MEDIA_REFERENCES); absent when not checked. */
  missingMediaFiles?: number;
  /** MEDIA_REFERENCES was set: whether its check ran; absent when it was not set. */
  referenceCheck?: "ran" | "not-run";
  /** Why the reference check did not run (the manifest's referencesNotRun.reason). */
  referenceCheckProblem?: string;
  /** The runner's own one-line message (already redacted) when it failed. */
  error?: string;
  destination?: string;
}

const seconds = (from: Date, to: Date) => Math.max(0, Math.round((to.getTime() - from.getTime()) / 100) / 10);

export function successOutcome(app: string, manifest: Manifest, destination?: string): RunOutcome {
  const started = new Date(manifest.startedAt);
  const finished = new Date(manifest.finishedAt);
  const databaseBytes = manifest.database?.bytes;
  const mediaBytes = manifest.media?.bytes;
  return {
    app,
    tier: manifest.tier,
    backupId: manifest.backupId,
    status: "success",
    startedAt: manifest.startedAt,
    finishedAt: manifest.finishedAt,
    durationSeconds: seconds(started, finished),
    databaseBytes,
    mediaBytes,
    totalBytes: (databaseBytes ?? 0) + (mediaBytes ?? 0),
    mediaFiles: manifest.media?.files,
    tables: manifest.database?.tableCount,
    missingMediaFiles: manifest.media?.references?.missing,
    ...(manifest.media?.referencesNotRun
      ? { referenceCheck: "not-run" as const, referenceCheckProblem: manifest.media.referencesNotRun.reason }
      : manifest.media?.references
        ? { referenceCheck: "ran" as const }
        : {}),
    destination,
  };
}

export interface FailureFacts {
  app: string;
  tier?: string;
  backupId?: string;
  started: Date;
  finished: Date;
  error: string;
  destination?: string;
}

export function failureOutcome(f: FailureFacts): RunOutcome {
  return {
    app: f.app,
    tier: f.tier,
    backupId: f.backupId,
    status: "failure",
    startedAt: f.started.toISOString(),
    finishedAt: f.finished.toISOString(),
    durationSeconds: seconds(f.started, f.finished),
    error: f.error,
    destination: f.destination,
  };
}
