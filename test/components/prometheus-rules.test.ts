// The stack's Prometheus alert rules (components/monitoring/prometheus-rules.ts) run by Prometheus's own rule
// engine: `promtool check rules` accepts them and `promtool test rules` evaluates them over series
// shaped like the exporter's, firing and not firing: a fresh stack before its first run stays quiet
// (as the CloudWatch alarms do), a tier past its deadline fires, a failed or overdue drill fires,
// missing media files fire at once, and an exporter that is down, gone or blind fires.
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import yaml from "js-yaml";
import { describe, expect, it } from "vitest";
import { alertRules, ALERT_NAMES, matchers, type AlertRule } from "../../components/monitoring/prometheus-rules.js";
import { requireTool } from "../helpers/prometheus.js";

const SELECTOR = { job: "edms-backup-exporter", namespace: "edms" };
const RULES = alertRules({ selector: SELECTOR });
const TARGET = { ...SELECTOR, instance: "10.0.0.7:9863" };
const byName = (name: string): AlertRule => RULES.groups[0]!.rules.find((r) => r.alert === name)!;

/** A series in promtool's notation, with the exporter's target labels. */
function series(metric: string, values: string, labels: Record<string, string> = {}) {
  return { series: `${metric}${matchers({ ...TARGET, ...labels })}`, values };
}

/** What promtool must report for `name` firing on a series with `labels`: every label, annotations rendered. */
function firing(name: string, labels: Record<string, string>) {
  const rule = byName(name);
  const all = { ...labels, ...rule.labels };
  const annotations = Object.fromEntries(
    Object.entries(rule.annotations).map(([k, v]) => [
      k,
      v.replace(/\{\{ \$labels\.(\w+) \}\}/g, (_m, label: string) => all[label] ?? ""),
    ]),
  );
  return { exp_labels: all, exp_annotations: annotations };
}

const quiet = (evalTime: string) =>
  ALERT_NAMES.map((alertname) => ({ eval_time: evalTime, alertname, exp_alerts: [] }));

// A healthy exporter's own series over three hours: scraped, every source read each minute.
const healthyExporter = [
  series("up", "1+0x180"),
  ...["backup_sets", "drills", "kept_copies", "unfinished_uploads"].map((source) =>
    series("edms_backup_exporter_last_refresh_timestamp_seconds", "0+60x180", { source }),
  ),
];

function promtool(tests: object[]): { code: number | null; out: string } {
  const bin = requireTool("promtool");
  const dir = mkdtempSync(path.join(tmpdir(), "edms-promtool-"));
  writeFileSync(path.join(dir, "rules.yaml"), yaml.dump(RULES));
  writeFileSync(
    path.join(dir, "test.yaml"),
    yaml.dump({ rule_files: ["rules.yaml"], evaluation_interval: "1m", tests }),
  );
  const r = spawnSync(bin, ["test", "rules", "test.yaml"], { cwd: dir, encoding: "utf8" });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

describe("the alert rules, under promtool", () => {
  it("pass promtool check rules", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "edms-promtool-"));
    writeFileSync(path.join(dir, "rules.yaml"), yaml.dump(RULES));
    const r = spawnSync(requireTool("promtool"), ["check", "rules", "rules.yaml"], { cwd: dir, encoding: "utf8" });
    expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
    expect(r.stdout).toContain(`${ALERT_NAMES.length} rules found`);
  });

  it("stay quiet on a fresh stack before its first runs (no backup, no drill yet)", () => {
    // Deadlines are the first scheduled runs + grace, hours away; no last-success or drill series.
    const r = promtool([
      {
        interval: "1m",
        input_series: [
          ...healthyExporter,
          series("edms_backup_deadline_timestamp_seconds", "36000+0x180", { tier: "daily" }),
          series("edms_backup_deadline_timestamp_seconds", "90000+0x180", { tier: "weekly" }),
          series("edms_backup_deadline_timestamp_seconds", "900000+0x180", { tier: "monthly" }),
          series("edms_backup_drill_deadline_timestamp_seconds", "200000+0x180"),
          series("edms_backup_complete_sets", "0+0x180", { tier: "daily" }),
        ],
        alert_rule_test: [...quiet("1m"), ...quiet("3h")],
      },
    ]);
    expect(r.code, r.out).toBe(0);
  });

  it("fire for a tier past its deadline, after the for-duration, and only for that tier", () => {
    const r = promtool([
      {
        interval: "1m",
        input_series: [
          ...healthyExporter,
          series("edms_backup_deadline_timestamp_seconds", "3600+0x180", { tier: "daily" }),
          series("edms_backup_deadline_timestamp_seconds", "900000+0x180", { tier: "weekly" }),
        ],
        alert_rule_test: [
          { eval_time: "59m", alertname: "EdmsBackupOverdue", exp_alerts: [] },
          // Overdue from 60m, pending for 5m.
          { eval_time: "63m", alertname: "EdmsBackupOverdue", exp_alerts: [] },
          {
            eval_time: "2h",
            alertname: "EdmsBackupOverdue",
            exp_alerts: [firing("EdmsBackupOverdue", { ...TARGET, tier: "daily" })],
          },
        ],
      },
    ]);
    expect(r.code, r.out).toBe(0);
  });

  it("fire when the last drill failed, and when no drill passed in time", () => {
    const r = promtool([
      {
        interval: "1m",
        input_series: [
          ...healthyExporter,
          series("edms_backup_drill_last_success", "1+0x30 0+0x150"),
          series("edms_backup_drill_deadline_timestamp_seconds", "5400+0x180"),
        ],
        alert_rule_test: [
          { eval_time: "25m", alertname: "EdmsBackupDrillFailed", exp_alerts: [] },
          {
            eval_time: "1h",
            alertname: "EdmsBackupDrillFailed",
            exp_alerts: [firing("EdmsBackupDrillFailed", TARGET)],
          },
          { eval_time: "1h", alertname: "EdmsBackupDrillOverdue", exp_alerts: [] },
          {
            eval_time: "2h",
            alertname: "EdmsBackupDrillOverdue",
            exp_alerts: [firing("EdmsBackupDrillOverdue", TARGET)],
          },
        ],
      },
    ]);
    expect(r.code, r.out).toBe(0);
  });

  it("fire at once for missing media files, never for a set that has none", () => {
    const r = promtool([
      {
        interval: "1m",
        input_series: [
          ...healthyExporter,
          series("edms_backup_last_success_missing_media_files", "0+0x60 3+0x120", { tier: "daily" }),
          series("edms_backup_last_success_missing_media_files", "0+0x180", { tier: "weekly" }),
        ],
        alert_rule_test: [
          { eval_time: "30m", alertname: "EdmsBackupMissingMediaFiles", exp_alerts: [] },
          {
            eval_time: "62m",
            alertname: "EdmsBackupMissingMediaFiles",
            exp_alerts: [firing("EdmsBackupMissingMediaFiles", { ...TARGET, tier: "daily" })],
          },
        ],
      },
    ]);
    expect(r.code, r.out).toBe(0);
  });

  it("fire when the exporter is down, gone, or cannot read a source", () => {
    const r = promtool([
      {
        interval: "1m",
        input_series: [series("up", "1+0x30 0+0x150")],
        alert_rule_test: [
          { eval_time: "40m", alertname: "EdmsBackupExporterDown", exp_alerts: [] },
          {
            eval_time: "1h",
            alertname: "EdmsBackupExporterDown",
            exp_alerts: [firing("EdmsBackupExporterDown", TARGET)],
          },
        ],
      },
      {
        // No target at all (a deleted Deployment): absent() carries the selector's labels.
        interval: "1m",
        input_series: [{ series: 'up{job="someone-else"}', values: "1+0x60" }],
        alert_rule_test: [
          { eval_time: "10m", alertname: "EdmsBackupExporterDown", exp_alerts: [] },
          {
            eval_time: "30m",
            alertname: "EdmsBackupExporterDown",
            exp_alerts: [firing("EdmsBackupExporterDown", SELECTOR)],
          },
        ],
      },
      {
        interval: "1m",
        input_series: [
          series("up", "1+0x60"),
          series("edms_backup_exporter_last_refresh_timestamp_seconds", "0+60x60", { source: "backup_sets" }),
          series("edms_backup_exporter_last_refresh_timestamp_seconds", "0+0x60", { source: "drills" }),
        ],
        alert_rule_test: [
          { eval_time: "10m", alertname: "EdmsBackupExporterCannotRead", exp_alerts: [] },
          {
            eval_time: "20m",
            alertname: "EdmsBackupExporterCannotRead",
            exp_alerts: [firing("EdmsBackupExporterCannotRead", { ...TARGET, source: "drills" })],
          },
        ],
      },
    ]);
    expect(r.code, r.out).toBe(0);
  });

  it("are scoped to the stack's exporter: another job's overdue tier does not fire", () => {
    const r = promtool([
      {
        interval: "1m",
        input_series: [
          ...healthyExporter,
          {
            series: 'edms_backup_deadline_timestamp_seconds{job="other-app",namespace="edms",tier="daily"}',
            values: "0+0x180",
          },
        ],
        alert_rule_test: quiet("2h"),
      },
    ]);
    expect(r.code, r.out).toBe(0);
  });

  it("suggest commands that work as typed: kubectl names the stack's namespace, the runner is no bare edms-backup", () => {
    for (const rule of RULES.groups[0]!.rules) {
      const text = Object.values(rule.annotations).join(" ");
      for (const command of text.matchAll(/kubectl \S+ \S+ \S+/g))
        expect(command[0], rule.alert).toMatch(/^kubectl --namespace edms /);
      expect(text, rule.alert).not.toMatch(/`edms-backup /);
    }
  });

  it("refuse an empty selector", () => {
    expect(() => alertRules({ selector: {} })).toThrow(/selector/);
  });
});
