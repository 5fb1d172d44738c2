/**
 * Tells the outside world how a run went (a backup, a restore drill): healthcheck pings (start,
 * then success or fail), the webhook, and CloudWatch metrics where the kind of run has them. Every
 * channel is optional and independent, and nothing here throws: a notification problem is logged
 * as a warning and the run's own exit code stands.
 */
import { DEFAULT_APP_NAME, runnerEnvShape, type RunnerEnv } from "../contract.js";
import type { Logger } from "../output/logger.js";
import { pingHealthcheck } from "./healthcheck.js";
import type { DeliveryOptions } from "./http-delivery.js";
import { publishRunMetrics } from "./metrics.js";
import type { RunOutcome } from "./outcome.js";
import { backupSummary, publishRunSummary, type RunFacts, type RunSummary } from "./run-summary.js";
import { postJson, webhookPayload } from "./webhook.js";

export interface NotifyTargets {
  app: string;
  healthcheckUrl?: string;
  webhookUrl?: string;
  cloudwatchNamespace?: string;
  runSummaryTopicArn?: string;
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
    app: valid(runnerEnvShape.APP_NAME, raw.APP_NAME) ?? DEFAULT_APP_NAME,
    healthcheckUrl: valid(runnerEnvShape.HEALTHCHECK_URL, raw.HEALTHCHECK_URL),
    webhookUrl: valid(runnerEnvShape.NOTIFY_WEBHOOK_URL, raw.NOTIFY_WEBHOOK_URL),
    cloudwatchNamespace: valid(runnerEnvShape.CLOUDWATCH_NAMESPACE, raw.CLOUDWATCH_NAMESPACE),
    runSummaryTopicArn: valid(runnerEnvShape.RUN_SUMMARY_TOPIC_ARN, raw.RUN_SUMMARY_TOPIC_ARN),
  };
}

/** What the reporter needs to know about one kind of run's payload (a backup's, a drill's). */
export interface ReportKind<P> {
  status(payload: P): "success" | "failure";
  /** The webhook's JSON body. */
  webhookBody(payload: P): object;
  /** CloudWatch metrics, for the kinds that publish them. */
  publishMetrics?(namespace: string, payload: P, log: Logger): Promise<unknown>;
  /** The run summary mailed through SNS (RUN_SUMMARY_TOPIC_ARN). */
  summary(payload: P, facts: RunFacts): RunSummary;
}

/** Backups: the RunOutcome, posted as the backup webhook payload and published as metrics. */
export const backupReport: ReportKind<RunOutcome> = {
  status: (outcome) => outcome.status,
  webhookBody: webhookPayload,
  publishMetrics: publishRunMetrics,
  summary: backupSummary,
};

/** What the run adds to its payload for the summary: its warnings, and the secrets to keep out. */
export interface RunExtras {
  warnings: readonly string[];
  secrets: readonly string[];
}

export class RunReporter<P> {
  private startPing: Promise<unknown> = Promise.resolve();
  private startedAt = Date.now();

  constructor(
    private readonly targets: NotifyTargets,
    private readonly kind: ReportKind<P>,
    private readonly delivery?: DeliveryOptions,
  ) {}

  /** Sends the start ping in the background; the final ping waits for it, so they arrive in order. */
  start(log: Logger): void {
    this.startedAt = Date.now();
    const url = this.targets.healthcheckUrl;
    if (url) this.startPing = pingHealthcheck(url, "start", log, this.delivery);
  }

  /** Sends the final ping, the webhook, the metrics and the run summary of a finished (or failed) run. */
  async finish(payload: P, log: Logger, extras: RunExtras = { warnings: [], secrets: [] }): Promise<void> {
    const { healthcheckUrl, webhookUrl, cloudwatchNamespace, runSummaryTopicArn } = this.targets;
    const status = this.kind.status(payload);
    await this.startPing;
    const sends: Array<Promise<unknown>> = [];
    if (healthcheckUrl)
      sends.push(pingHealthcheck(healthcheckUrl, status === "success" ? "success" : "fail", log, this.delivery));
    if (webhookUrl) sends.push(postJson(webhookUrl, this.kind.webhookBody(payload), status, log, this.delivery));
    if (cloudwatchNamespace && this.kind.publishMetrics)
      sends.push(this.kind.publishMetrics(cloudwatchNamespace, payload, log));
    if (runSummaryTopicArn) {
      const facts = { warnings: extras.warnings, durationSeconds: (Date.now() - this.startedAt) / 1000 };
      sends.push(publishRunSummary(runSummaryTopicArn, this.kind.summary(payload, facts), log, extras.secrets));
    }
    // Each sender catches its own errors; allSettled is a second net so nothing can escape.
    await Promise.allSettled(sends);
  }
}
