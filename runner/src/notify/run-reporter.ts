/**
 * Tells the outside world how a backup run went: healthcheck pings (start, then success or fail),
 * the webhook, and CloudWatch metrics. Every channel is optional and independent, and nothing here
 * throws: a notification problem is logged as a warning and the run's own exit code stands.
 */
import { runnerEnvShape, type RunnerEnv } from "../contract.js";
import type { Logger } from "../logger.js";
import type { Manifest } from "../manifest.js";
import { pingHealthcheck } from "./healthcheck.js";
import type { DeliveryOptions } from "./http-delivery.js";
import { publishRunMetrics } from "./metrics.js";
import { failureOutcome, successOutcome, type RunOutcome } from "./outcome.js";
import { postWebhook } from "./webhook.js";

export interface NotifyTargets {
  app: string;
  healthcheckUrl?: string;
  webhookUrl?: string;
  cloudwatchNamespace?: string;
}

/**
 * The notification settings, each validated on its own with the contract's schema. They are read
 * before (and independently of) the run's full settings, so even a run that fails on bad
 * configuration still reports its failure; an invalid URL is simply not used (the configuration
 * error names it).
 */
export function notifyTargetsFromEnv(raw: RunnerEnv): NotifyTargets {
  const valid = <T>(
    schema: { safeParse(v: unknown): { success: true; data: T } | { success: false } },
    value: string | undefined,
  ) => {
    if (value === undefined) return undefined;
    const parsed = schema.safeParse(value);
    return parsed.success ? parsed.data : undefined;
  };
  return {
    app: valid(runnerEnvShape.APP_NAME, raw.APP_NAME) ?? "edms",
    healthcheckUrl: valid(runnerEnvShape.HEALTHCHECK_URL, raw.HEALTHCHECK_URL),
    webhookUrl: valid(runnerEnvShape.NOTIFY_WEBHOOK_URL, raw.NOTIFY_WEBHOOK_URL),
    cloudwatchNamespace: valid(runnerEnvShape.CLOUDWATCH_NAMESPACE, raw.CLOUDWATCH_NAMESPACE),
  };
}

export interface FailureReport {
  error: string;
  tier?: string;
  backupId?: string;
  destination?: string;
}

export class RunReporter {
  private startPing: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly targets: NotifyTargets,
    private readonly started: Date = new Date(),
    private readonly delivery?: DeliveryOptions,
  ) {}

  /** Sends the start ping in the background; the final ping waits for it, so they arrive in order. */
  start(log: Logger): void {
    const url = this.targets.healthcheckUrl;
    if (url) this.startPing = pingHealthcheck(url, "start", log, this.delivery);
  }

  async succeeded(manifest: Manifest, destination: string, log: Logger): Promise<RunOutcome> {
    const outcome = successOutcome(this.targets.app, manifest, destination);
    await this.finish(outcome, log);
    return outcome;
  }

  async failed(report: FailureReport, log: Logger, finished: Date = new Date()): Promise<RunOutcome> {
    const outcome = failureOutcome({ app: this.targets.app, started: this.started, finished, ...report });
    await this.finish(outcome, log);
    return outcome;
  }

  private async finish(outcome: RunOutcome, log: Logger): Promise<void> {
    const { healthcheckUrl, webhookUrl, cloudwatchNamespace } = this.targets;
    await this.startPing;
    const sends: Array<Promise<unknown>> = [];
    if (healthcheckUrl)
      sends.push(
        pingHealthcheck(healthcheckUrl, outcome.status === "success" ? "success" : "fail", log, this.delivery),
      );
    if (webhookUrl) sends.push(postWebhook(webhookUrl, outcome, log, this.delivery));
    if (cloudwatchNamespace) sends.push(publishRunMetrics(cloudwatchNamespace, outcome, log));
    // Each sender catches its own errors; allSettled is a second net so nothing can escape.
    await Promise.allSettled(sends);
  }
}
