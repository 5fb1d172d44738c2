/**
 * Tells the outside world how a restore drill went, on the same channels as backups: the
 * healthcheck (start, then success or fail) and the webhook (event "drill"). A drill that fails
 * means the newest backup could not be restored; nobody should have to find that in Job history.
 */
import type { DrillReport } from "../commands/drill.js";
import type { Logger } from "../logger.js";
import { pingHealthcheck } from "./healthcheck.js";
import type { DeliveryOptions } from "./http-delivery.js";
import type { NotifyTargets } from "./run-reporter.js";
import { postJson } from "./webhook.js";

export interface DrillWebhookPayload {
  text: string;
  event: "drill";
  app: string;
  tier: string | null;
  backupId: string | null;
  status: "success" | "failure";
  restoreSeconds: number | null;
  checks: DrillReport["checks"];
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
    error,
  };
}

export class DrillReporter {
  private startPing: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly targets: NotifyTargets,
    private readonly delivery?: DeliveryOptions,
  ) {}

  start(log: Logger): void {
    if (this.targets.healthcheckUrl)
      this.startPing = pingHealthcheck(this.targets.healthcheckUrl, "start", log, this.delivery);
  }

  async finish(payload: DrillWebhookPayload, log: Logger): Promise<void> {
    await this.startPing;
    const { healthcheckUrl, webhookUrl } = this.targets;
    await Promise.all([
      healthcheckUrl
        ? pingHealthcheck(healthcheckUrl, payload.status === "success" ? "success" : "fail", log, this.delivery)
        : undefined,
      webhookUrl ? postJson(webhookUrl, payload, payload.status, log, this.delivery) : undefined,
    ]);
  }
}
