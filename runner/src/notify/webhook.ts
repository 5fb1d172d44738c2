/**
 * The run's outcome as one JSON POST: machine-readable fields plus a Slack-compatible `text`, so
 * the same URL works for a Slack incoming webhook, a chat bridge or a custom receiver.
 */
import type { Logger } from "../output/logger.js";
import { formatBytes, formatDuration } from "../output/format.js";
import { deliver, urlOrigin, type DeliveryOptions } from "./http-delivery.js";
import type { RunOutcome } from "./outcome.js";

export interface WebhookPayload {
  /** Slack (and Mattermost, Teams' Slack-compatible connectors) show this line. */
  text: string;
  event: "backup";
  app: string;
  tier: string | null;
  backupId: string | null;
  status: RunOutcome["status"];
  startedAt: string;
  finishedAt: string;
  durationSeconds: number;
  databaseBytes: number | null;
  mediaBytes: number | null;
  totalBytes: number | null;
  /** Referenced media files missing from the backup (MEDIA_REFERENCES); null when not checked. */
  missingMediaFiles: number | null;
  /** Why the media reference check (MEDIA_REFERENCES) did not run; null when it ran or is not set. */
  referenceCheckNotRun: string | null;
  error: string | null;
  destination: string | null;
}

export function webhookText(o: RunOutcome): string {
  const what = `${o.app} ${o.tier ?? "(unknown tier)"} backup`;
  const duration = formatDuration(Math.round(o.durationSeconds));
  if (o.status === "success") {
    const missing = o.missingMediaFiles
      ? `; WARNING: ${o.missingMediaFiles} referenced media file${o.missingMediaFiles === 1 ? " is" : "s are"} missing`
      : "";
    const notRun =
      o.referenceCheck === "not-run"
        ? `; WARNING: the media reference check did not run: ${o.referenceCheckProblem}`
        : "";
    const icon = o.missingMediaFiles || notRun ? ":warning:" : ":white_check_mark:";
    return `${icon} ${what} ${o.backupId ?? ""} succeeded: ${formatBytes(o.totalBytes ?? 0)} in ${duration}${missing}${notRun}`.replace(
      "  ",
      " ",
    );
  }
  const id = o.backupId ? ` ${o.backupId}` : "";
  return `:x: ${what}${id} FAILED after ${duration}: ${o.error ?? "unknown error"}`;
}

export function webhookPayload(o: RunOutcome): WebhookPayload {
  return {
    text: webhookText(o),
    event: "backup",
    app: o.app,
    tier: o.tier ?? null,
    backupId: o.backupId ?? null,
    status: o.status,
    startedAt: o.startedAt,
    finishedAt: o.finishedAt,
    durationSeconds: o.durationSeconds,
    databaseBytes: o.databaseBytes ?? null,
    mediaBytes: o.mediaBytes ?? null,
    totalBytes: o.totalBytes ?? null,
    missingMediaFiles: o.missingMediaFiles ?? null,
    referenceCheckNotRun: o.referenceCheck === "not-run" ? (o.referenceCheckProblem ?? "") : null,
    error: o.error ?? null,
    destination: o.destination ?? null,
  };
}

/** POSTs any notification payload; never throws (a failure is logged, the run's result stands). */
export async function postJson(
  url: string,
  payload: object,
  status: string,
  log: Logger,
  options?: DeliveryOptions,
): Promise<boolean> {
  const result = await deliver(
    url,
    { method: "POST", body: JSON.stringify(payload), headers: { "content-type": "application/json" } },
    options,
  );
  const fields = { stage: "notify", target: "webhook", status, origin: urlOrigin(url), attempts: result.attempts };
  if (result.ok) log.info(fields, "webhook notified");
  else
    log.warn({ ...fields, problem: result.problem }, "webhook notification failed; the run's own result is unaffected");
  return result.ok;
}
