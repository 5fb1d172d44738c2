/**
 * Tells the outside world how a restore drill went, on the same channels as backups: the
 * healthcheck (start, then success or fail) and the webhook (event "drill"). A drill that fails
 * means the newest backup could not be restored; nobody should have to find that in Job history.
 * The drill record and the DrillSucceeded metric the alarms watch: drill/drill-outcome.ts.
 */
import type { DrillMedia, DrillReport } from "../drill/drill-record.js";
import type { ReportKind } from "./run-reporter.js";
import { drillSummary } from "./run-summary.js";

export interface DrillWebhookPayload {
  text: string;
  event: "drill";
  app: string;
  tier: string | null;
  backupId: string | null;
  status: "success" | "failure";
  restoreSeconds: number | null;
  checks: DrillReport["checks"];
  /** Which media check the drill made (full restore or a random sample); null without media or a report. */
  media: DrillMedia | null;
  error: string | null;
}

/** A finished drill (pass or fail), or one that could not run at all (`error`). */
export function drillPayload(
  app: string,
  outcome: { report?: DrillReport; error?: string; tier?: string },
): DrillWebhookPayload {
  const { report } = outcome;
  const ok = report?.ok === true && outcome.error === undefined;
  const failed = report?.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`) ?? [];
  const error = outcome.error ?? (ok ? null : failed.join("; ") || "nothing was checked");
  const what = `${app} restore drill of ${report ? `${report.tier}/${report.backupId}` : (outcome.tier ?? "the newest backup")}`;
  return {
    text: ok
      ? `:white_check_mark: ${what} passed: restored in ${report!.restoreSeconds.toFixed(1)} s`
      : `:x: ${what} FAILED: ${error}`,
    event: "drill",
    app,
    tier: report?.tier ?? outcome.tier ?? null,
    backupId: report?.backupId ?? null,
    status: ok ? "success" : "failure",
    restoreSeconds: report?.restoreSeconds ?? null,
    checks: report?.checks ?? [],
    media: report?.media ?? null,
    error,
  };
}

/** Drills: the drill payload as the webhook body (event "drill") and the run summary; no metrics. */
export const drillReport: ReportKind<DrillWebhookPayload> = {
  status: (payload) => payload.status,
  webhookBody: (payload) => payload,
  summary: drillSummary,
};
