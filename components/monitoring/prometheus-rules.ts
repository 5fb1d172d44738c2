/**
 * The Prometheus alert rules over `edms-backup exporter`'s series, as a pure function: the stack's
 * PrometheusRule carries them, and test/components/prometheus-rules.test.ts runs them through
 * `promtool test rules` (firing and not firing, a fresh stack included). They judge as `status`
 * and the CloudWatch alarms do: the exporter publishes each tier's deadline (newest backup's start
 * + interval + grace, or the first scheduled run + grace before any backup), so a stack that has
 * not had its first run yet stays quiet, and a tier that missed it does not.
 */
import * as n from "../../runner/src/prometheus-names.js";

export interface AlertRuleSettings {
  /**
   * Label matchers that select this stack's exporter (the job the ServiceMonitor scrapes, and its
   * namespace): several stacks in one Prometheus never alert on each other's series.
   */
  selector: Record<string, string>;
  /** Minutes a condition must hold before it fires (default 5). */
  forMinutes?: number;
  /** Minutes the exporter may be unreachable, or unable to read a source, before it alerts (default 15). */
  exporterDownMinutes?: number;
}

export interface AlertRule {
  alert: string;
  expr: string;
  for: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface RuleGroups {
  groups: Array<{ name: string; rules: AlertRule[] }>;
}

export const ALERT_NAMES = [
  "EdmsBackupOverdue",
  "EdmsBackupDrillFailed",
  "EdmsBackupDrillOverdue",
  "EdmsBackupMissingMediaFiles",
  "EdmsBackupExporterDown",
  "EdmsBackupExporterCannotRead",
] as const;

/** `{job="x",namespace="y"}`, values escaped as PromQL strings. */
export function matchers(selector: Record<string, string>): string {
  const parts = Object.entries(selector).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return `{${parts.join(",")}}`;
}

export function alertRules(s: AlertRuleSettings): RuleGroups {
  if (Object.keys(s.selector).length === 0) throw new Error("alert rules need a selector for the stack's exporter");
  const sel = matchers(s.selector);
  const forMin = `${s.forMinutes ?? 5}m`;
  const downMin = s.exporterDownMinutes ?? 15;
  const runbook = "docs/RUNBOOK.md (Prometheus)";
  // The commands an alert suggests name the namespace: the reader's kubectl context may be any.
  const kubectl = `kubectl --namespace ${s.selector.namespace ?? "<namespace>"}`;
  const rules: AlertRule[] = [
    {
      alert: "EdmsBackupOverdue",
      expr: `time() > ${n.DEADLINE_TIMESTAMP}${sel}`,
      for: forMin,
      labels: { severity: "critical" },
      annotations: {
        summary: "The {{ $labels.tier }} backup is overdue",
        description:
          "No complete {{ $labels.tier }} backup within its interval + grace (or since its first scheduled run + grace). " +
          `Check the CronJob and its last Job (${kubectl} get cronjobs,jobs; ${kubectl} logs job/<name>) and the runner's \`list\`; see ${runbook}.`,
      },
    },
    {
      alert: "EdmsBackupDrillFailed",
      expr: `${n.DRILL_LAST_SUCCESS}${sel} == 0`,
      for: forMin,
      labels: { severity: "critical" },
      annotations: {
        summary: "The last restore drill failed",
        description: `The newest backup of the drilled tier could not be restored and verified. Read the drill Job's log; see ${runbook}.`,
      },
    },
    {
      alert: "EdmsBackupDrillOverdue",
      expr: `time() > ${n.DRILL_DEADLINE_TIMESTAMP}${sel}`,
      for: forMin,
      labels: { severity: "warning" },
      annotations: {
        summary: "No restore drill passed recently enough",
        description: `No passing restore drill within STATUS_DRILL_MAX_AGE_HOURS (or since the first scheduled drill + grace); see ${runbook}.`,
      },
    },
    {
      alert: "EdmsBackupMissingMediaFiles",
      expr: `${n.LAST_SUCCESS_MISSING_MEDIA_FILES}${sel} > 0`,
      for: "0m",
      labels: { severity: "warning" },
      annotations: {
        summary: "The newest {{ $labels.tier }} backup lacks media files the database references",
        description: `Referenced media files (MEDIA_REFERENCES) were not in the media folder when it was backed up; the runner's \`verify <id>\` lists them; see ${runbook}.`,
      },
    },
    {
      alert: "EdmsBackupExporterDown",
      // absent(): a deleted Deployment or a ServiceMonitor Prometheus does not pick up leaves no `up` at all.
      expr: `up${sel} == 0 or absent(up${sel})`,
      for: `${downMin}m`,
      labels: { severity: "warning" },
      annotations: {
        summary: "edms-backup exporter is down",
        description: `Prometheus cannot scrape edms-backup exporter: the backup alerts above cannot fire. ${kubectl} get pods,endpoints -l app.kubernetes.io/component=exporter; see ${runbook}.`,
      },
    },
    {
      alert: "EdmsBackupExporterCannotRead",
      expr: `time() - ${n.LAST_REFRESH_TIMESTAMP}${sel} > ${downMin * 60}`,
      for: "0m",
      labels: { severity: "warning" },
      annotations: {
        summary: "edms-backup exporter cannot read the {{ $labels.source }} at the destination",
        description: `Its series keep their last values, so the backup alerts may be blind. The exporter's log says why (${kubectl} logs deploy/<app>-backup-exporter); see ${runbook}.`,
      },
    },
  ];
  return { groups: [{ name: "edms-backup", rules }] };
}
