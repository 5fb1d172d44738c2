/**
 * The run summary: one plain-text message per backup and drill, success or failure, published to
 * the SNS topic RUN_SUMMARY_TOPIC_ARN (the stack mails it to the addresses in runSummary.emails).
 * Plain text because email is what SNS delivers it as; the message attributes (event, status,
 * tier) let other subscribers filter (e.g. failures only) with an SNS filter policy.
 *
 * Never a secret: the fields come from the manifest or the drill report, the error and the
 * warnings are the runner's own log messages (already redacted by the logger), and the whole text
 * passes through redact() with the run's known secrets once more before it leaves.
 */
import type { SNSClient } from "@aws-sdk/client-sns";
import { withCredentialsHint } from "../aws/credentials-hint.js";
import { loadAwsSdk } from "../aws/load.js";
import { errorMessage } from "../errors.js";
import { formatBytes, formatDuration, printable } from "../output/format.js";
import type { Logger } from "../output/logger.js";
import { redact } from "../output/redact.js";
import type { DrillWebhookPayload } from "./drill-reporter.js";
import { describeDrillMedia } from "../drill/drill-record.js";
import type { RunOutcome } from "./outcome.js";

export interface RunSummary {
  /** The mail's subject: printable ASCII, under SNS's 100 characters. */
  subject: string;
  /** The mail's body. */
  message: string;
  attributes: { event: "backup" | "drill"; status: "success" | "failure"; tier?: string };
}

/** What the reporter knows about the run beyond its payload. */
export interface RunFacts {
  /** The run's warning log messages, in order (redacted by the logger). */
  warnings: readonly string[];
  /** Seconds from the reporter's start to its finish: the whole run, as the CronJob saw it. */
  durationSeconds: number;
}

// SNS: "ASCII text that begins with a letter, number, or punctuation mark; must not include line
// breaks or control characters; and must be less than 100 characters long".
const SUBJECT_MAX = 99;
export function snsSubject(text: string): string {
  // eslint-disable-next-line no-control-regex -- anything outside printable ASCII is the point
  const ascii = text.replace(/[^\x20-\x7e]/g, "?").trim();
  return ascii.length <= SUBJECT_MAX ? ascii : `${ascii.slice(0, SUBJECT_MAX - 3)}...`;
}

/** "Label:  value" lines, aligned; lines without a value are left out. */
function fields(rows: Array<[string, string | undefined]>): string[] {
  const present = rows.filter((r): r is [string, string] => r[1] !== undefined);
  const width = Math.max(...present.map(([label]) => label.length)) + 2;
  return present.map(([label, value]) => `${`${label}:`.padEnd(width)}${value}`);
}

const list = (title: string, items: readonly string[]) =>
  items.length ? ["", `${title}:`, ...items.map((item) => `- ${item}`)] : [];

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? "" : "s"}`;

/** The warnings a backup carries: the run's warning log lines, and missing media files (counted) once. */
function backupWarnings(o: RunOutcome, logged: readonly string[]): string[] {
  const warnings = [...logged];
  if (o.missingMediaFiles && !logged.some((w) => w.includes("media files referenced")))
    warnings.unshift(`${plural(o.missingMediaFiles, "referenced media file")} missing from the media folder`);
  return warnings;
}

export function backupSummary(o: RunOutcome, facts: RunFacts): RunSummary {
  const ok = o.status === "success";
  const warnings = backupWarnings(o, facts.warnings);
  const what = `${o.app} ${o.tier ?? "(unknown tier)"} backup${o.backupId ? ` ${o.backupId}` : ""}`;
  const verdict = ok ? `succeeded${warnings.length ? ` with ${plural(warnings.length, "warning")}` : ""}` : "FAILED";
  const size = (bytes: number | undefined, detail: string | undefined) =>
    bytes === undefined ? undefined : `${formatBytes(bytes)}${detail ? ` (${detail})` : ""}`;
  const body = [
    `${what} ${verdict}.`,
    "",
    ...fields([
      ["App", o.app],
      ["Tier", o.tier],
      ["Backup", o.backupId],
      ["Status", ok ? "success" : "failure"],
      ["Started", o.startedAt],
      ["Finished", o.finishedAt],
      ["Duration", formatDuration(o.durationSeconds)],
      ["Database", size(o.databaseBytes, o.tables === undefined ? undefined : plural(o.tables, "table"))],
      ["Media", size(o.mediaBytes, o.mediaFiles === undefined ? undefined : plural(o.mediaFiles, "file"))],
      ["Stored", ok ? formatBytes(o.totalBytes ?? 0) : undefined],
      ["Missing media", o.missingMediaFiles === undefined ? undefined : String(o.missingMediaFiles)],
      ["Destination", o.destination],
      ["Error", o.error],
    ]),
    ...list("Warnings", warnings),
    ...(ok ? [] : ["", "What to do: docs/RUNBOOK.md, 'When an alarm fires', step 3; the Job's log has the details."]),
  ];
  return {
    subject: snsSubject(`[${ok ? (warnings.length ? "warning" : "ok") : "FAILED"}] ${what} ${verdict}`),
    message: body.join("\n"),
    attributes: { event: "backup", status: o.status, tier: o.tier },
  };
}

export function drillSummary(p: DrillWebhookPayload, facts: RunFacts): RunSummary {
  const ok = p.status === "success";
  const what = `${p.app} restore drill of ${p.tier && p.backupId ? `${p.tier}/${p.backupId}` : (p.tier ?? "the newest backup")}`;
  const verdict = ok ? "passed" : "FAILED";
  const body = [
    `${what} ${verdict}.`,
    "",
    ...fields([
      ["App", p.app],
      ["Tier", p.tier ?? undefined],
      ["Backup", p.backupId ?? undefined],
      ["Status", ok ? "success" : "failure"],
      ["Restore time", p.restoreSeconds === null ? undefined : `${p.restoreSeconds.toFixed(1)} s`],
      ["Media check", p.media ? describeDrillMedia(p.media) : undefined],
      ["Duration", formatDuration(facts.durationSeconds)],
      ["Error", p.error ?? undefined],
    ]),
    ...list(
      "Checks",
      p.checks.map((c) => `${c.ok ? "ok" : "FAILED"} ${c.name}: ${c.detail}`),
    ),
    ...list("Warnings", facts.warnings),
    ...(ok ? [] : ["", "What to do: docs/RUNBOOK.md, 'Running a restore drill'; the Job's log has the details."]),
  ];
  return {
    subject: snsSubject(`[${ok ? (facts.warnings.length ? "warning" : "ok") : "FAILED"}] ${what} ${verdict}`),
    message: body.join("\n"),
    attributes: { event: "drill", status: p.status, tier: p.tier ?? undefined },
  };
}

/** The SNS region is the topic's own (arn:aws:sns:<region>:...), whatever AWS_REGION says. */
export function topicRegion(topicArn: string): string {
  return topicArn.split(":")[3] ?? "";
}

/**
 * Publishes the summary; never throws. A summary that cannot be published is a warning: the run's
 * own result and exit code stand (a backup that worked must not fail because a mail could not be
 * sent), and failures still reach the alarms through the metrics and the healthcheck.
 */
export async function publishRunSummary(
  topicArn: string,
  summary: RunSummary,
  log: Logger,
  secrets: readonly string[] = [],
  client?: SNSClient,
): Promise<boolean> {
  const fields = { stage: "notify", target: "sns", topic: topicArn, status: summary.attributes.status };
  try {
    // Loaded on first use: runs without RUN_SUMMARY_TOPIC_ARN never pay for the SDK.
    const { sns } = await loadAwsSdk();
    const sender = client ?? new sns.SNSClient({ region: topicRegion(topicArn) });
    const attribute = (value: string) => ({ DataType: "String", StringValue: printable(value) });
    const { event, status, tier } = summary.attributes;
    await sender.send(
      new sns.PublishCommand({
        TopicArn: topicArn,
        Subject: redact(summary.subject, secrets),
        Message: redact(summary.message, secrets),
        MessageAttributes: {
          event: attribute(event),
          status: attribute(status),
          ...(tier ? { tier: attribute(tier) } : {}),
        },
      }),
    );
    log.info(fields, "run summary published");
    return true;
  } catch (error) {
    log.warn(
      { ...fields, problem: errorMessage(withCredentialsHint(error)) },
      "could not publish the run summary; the run's own result is unaffected",
    );
    return false;
  }
}
