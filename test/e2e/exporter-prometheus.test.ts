// `edms-backup exporter` scraped by a real Prometheus (Debian's), backed by a real file://
// destination whose sets, drill record and kept-copy marker were made by the bundled runner against
// a real PostgreSQL: the series read back through Prometheus's HTTP API equal what the destination
// holds, read from disk (the manifests, the objects' sizes, the drill record), not the runner's own
// view. The exporter refreshes on its own (a new set appears without a restart), a corrupt marker
// counts a scrape error and keeps the last values, and every panel of the Grafana dashboard
// (docs/grafana-dashboard.json) parses and returns data against this Prometheus.
import { mkdir, mkdtemp, readFile, readdir, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { fileDatabases } from "../helpers/file-databases.js";
import { freePort } from "../helpers/pg-cluster.js";
import { startPrometheus, type PromSample, type TestPrometheus } from "../helpers/prometheus.js";
import { runRunner, startRunner, type RunningRunner } from "../helpers/runner-cli.js";
import { makeMediaTree, seedEdmsDatabase } from "../helpers/sample-data.js";
import { dashboardQueries } from "../helpers/grafana-dashboard.js";

const pg = inject("pg");
const { create: newDatabase } = fileDatabases(pg);

const GRACE_HOURS = 6;
const FIRST_MONTHLY = new Date(Date.now() + 3 * 86_400_000); // a tier not due yet: pending
let dest: string;
let mediaDir: string;
let env: Record<string, string>;
let exporter: RunningRunner;
let prom: TestPrometheus;
const ids: Record<string, string> = {};

async function backup(tier: string, extra: Record<string, string> = {}, args: string[] = []): Promise<string> {
  const r = await runRunner(["backup", "--tier", tier, ...args], { ...env, ...extra });
  expect(r.code, r.stderr).toBe(0);
  return r.logs.find((l) => l.stage === "done")!.backupId as string;
}

const manifestOf = async (tier: string, id: string) =>
  JSON.parse(await readFile(path.join(dest, tier, id, "manifest.json"), "utf8")) as {
    startedAt: string;
    finishedAt: string;
    database: { key: string };
    media: { key: string; sourceBytes: number; files: number; references?: { missing: number } };
  };

async function sizesOf(tier: string, id: string): Promise<Record<string, number>> {
  const sizes: Record<string, number> = {};
  for (const name of await readdir(path.join(dest, tier, id)))
    sizes[name] = (await stat(path.join(dest, tier, id, name))).size;
  return sizes;
}

/** The one value of `expr` (a vector of one sample), as a number. */
async function value(expr: string): Promise<number> {
  const r = await prom.waitFor(expr, (s) => s.length === 1);
  return Number(r[0]!.value[1]);
}

const byLabel = (label: string) => (samples: PromSample[]) =>
  Object.fromEntries(samples.map((s) => [s.metric[label], Number(s.value[1])]));
const byTier = byLabel("tier");
const byComponent = byLabel("component");

beforeAll(async () => {
  const db = await newDatabase("exporter");
  await seedEdmsDatabase(db.url);
  mediaDir = await mkdtemp(path.join(tmpdir(), "edms-exporter-media-"));
  await makeMediaTree(mediaDir, { bigFileMiB: 1 });
  dest = await mkdtemp(path.join(tmpdir(), "edms-exporter-dest-"));
  env = { DATABASE_URL: db.url, MEDIA_DIR: mediaDir, BACKUP_DESTINATION: `file://${dest}` };
  // Document versions point at files the media tree does not have: missing references.
  ids.daily = await backup("daily", { MEDIA_REFERENCES: "documents_documentversion.file" });
  ids.weekly = await backup("weekly");
  // A run that died: objects, no manifest (older than the complete one, so it is not the newest).
  await mkdir(path.join(dest, "daily", "20200101T000000Z-dead"), { recursive: true });
  await writeFile(path.join(dest, "daily", "20200101T000000Z-dead", "database.dump"), "partial");
  const drill = await runRunner(["drill", "latest", "--tier", "daily"], env);
  expect(drill.code, drill.stderr).toBe(0);
  // A restore over the live database and folder keeps what it replaced: a kept-copy marker.
  const restore = await runRunner(["restore", "latest", "--tier", "daily", "--yes", "--terminate-connections"], env);
  expect(restore.code, restore.stderr).toBe(0);

  const port = await freePort();
  exporter = await startRunner(["exporter", "--listen", `127.0.0.1:${port}`, "--refresh-seconds", "1"], {
    BACKUP_DESTINATION: `file://${dest}`,
    STATUS_TIERS: "daily,weekly,monthly",
    STATUS_GRACE_HOURS: String(GRACE_HOURS),
    STATUS_DRILL_MAX_AGE_HOURS: "192",
    STATUS_FIRST_RUNS: `monthly=${FIRST_MONTHLY.toISOString()}`,
  });
  await exporter.waitForLog((l) => l.stage === "exporter" && typeof l.listen === "string");
  prom = await startPrometheus([`127.0.0.1:${port}`]);
}, 240_000);

afterAll(async () => {
  await prom?.stop();
  if (exporter) {
    exporter.child.kill("SIGTERM");
    const end = await exporter.result;
    // Stopped by its PID like any runner command: 143, one message.
    expect(end.code).toBe(143);
    expect(end.stderr).toContain("exporter stopped by SIGTERM");
  }
});

describe("edms-backup exporter, scraped by Prometheus", () => {
  it("is up, and its newest-set series equal the manifests and objects on disk", async () => {
    await prom.waitFor('up{job="edms-backup"} == 1');
    const daily = await manifestOf("daily", ids.daily!);
    expect(await value('edms_backup_last_success_timestamp_seconds{tier="daily"}')).toBeCloseTo(
      Date.parse(daily.finishedAt) / 1000,
      3,
    );
    expect(await value('edms_backup_last_success_duration_seconds{tier="daily"}')).toBeCloseTo(
      (Date.parse(daily.finishedAt) - Date.parse(daily.startedAt)) / 1000,
      3,
    );
    const sizes = await sizesOf("daily", ids.daily!);
    expect(byComponent(await prom.query('edms_backup_last_success_bytes{tier="daily"}'))).toEqual({
      database: sizes[daily.database.key],
      media: sizes[daily.media.key],
      stored: Object.values(sizes).reduce((a, b) => a + b, 0),
    });
    expect(await value('edms_backup_last_success_media_source_bytes{tier="daily"}')).toBe(daily.media.sourceBytes);
    expect(await value('edms_backup_last_success_media_files{tier="daily"}')).toBe(daily.media.files);
    expect(daily.media.references!.missing).toBeGreaterThan(0);
    expect(await value('edms_backup_last_success_missing_media_files{tier="daily"}')).toBe(
      daily.media.references!.missing,
    );
    // Not checked on the weekly set: no series, rather than a reassuring 0.
    expect(await prom.query('edms_backup_last_success_missing_media_files{tier="weekly"}')).toEqual([]);
    const weekly = await manifestOf("weekly", ids.weekly!);
    expect(await value('edms_backup_last_success_timestamp_seconds{tier="weekly"}')).toBeCloseTo(
      Date.parse(weekly.finishedAt) / 1000,
      3,
    );
    expect(await prom.query('edms_backup_last_success_timestamp_seconds{tier="monthly"}')).toEqual([]);
  });

  it("counts complete and incomplete sets per tier and gives each watched tier its max age and deadline", async () => {
    expect(byTier(await prom.query("edms_backup_complete_sets"))).toEqual({
      daily: 1,
      weekly: 1,
      monthly: 0,
      adhoc: 0,
    });
    expect(byTier(await prom.query("edms_backup_incomplete_sets"))).toEqual({
      daily: 1,
      weekly: 0,
      monthly: 0,
      adhoc: 0,
    });
    expect(byTier(await prom.query("edms_backup_max_age_seconds"))).toEqual({
      daily: (24 + GRACE_HOURS) * 3600,
      weekly: (168 + GRACE_HOURS) * 3600,
      monthly: (744 + GRACE_HOURS) * 3600,
    });
    const daily = await manifestOf("daily", ids.daily!);
    const deadlines = byTier(await prom.query("edms_backup_deadline_timestamp_seconds"));
    expect(deadlines.daily).toBeCloseTo(Date.parse(daily.startedAt) / 1000 + (24 + GRACE_HOURS) * 3600, 3);
    // Never backed up, first run in three days: due at that run + grace, as `status` judges it.
    expect(deadlines.monthly).toBeCloseTo(FIRST_MONTHLY.getTime() / 1000 + GRACE_HOURS * 3600, 3);
    // The same verdict as status: nothing is overdue now.
    expect(await prom.query("time() > edms_backup_deadline_timestamp_seconds")).toEqual([]);
  });

  it("reports the last drill from its record: passed, its restore time, and when", async () => {
    const [recordName] = (await readdir(path.join(dest, "drills"))).filter((n) => n.endsWith(".json"));
    const record = JSON.parse(await readFile(path.join(dest, "drills", recordName!), "utf8")) as {
      finishedAt: string;
      ok: boolean;
      restoreSeconds: number;
    };
    expect(record.ok).toBe(true);
    expect(record.restoreSeconds).toBeGreaterThan(0);
    expect(await value("edms_backup_drill_last_success")).toBe(1);
    expect(await value("edms_backup_drill_last_restore_seconds")).toBeCloseTo(record.restoreSeconds, 6);
    expect(await value("edms_backup_drill_last_timestamp_seconds")).toBeCloseTo(
      Date.parse(record.finishedAt) / 1000,
      3,
    );
    expect(await value("edms_backup_drill_deadline_timestamp_seconds")).toBeCloseTo(
      Date.parse(record.finishedAt) / 1000 + 192 * 3600,
      3,
    );
  });

  it("reports the restore's kept copies and the (absent) unfinished uploads", async () => {
    expect(byComponent(await prom.query("edms_backup_kept_copies"))).toEqual({ database: 1, media: 1 });
    const kept = (await readdir(path.join(dest, "restores"))).find((n) => n.endsWith(".kept.json"));
    const marker = JSON.parse(await readFile(path.join(dest, "restores", kept!), "utf8")) as {
      media: { sourceBytes: number };
    };
    expect(await value('edms_backup_kept_copy_bytes{component="media"}')).toBe(marker.media.sourceBytes);
    expect(await value("edms_backup_unfinished_uploads")).toBe(0);
    expect(await value('sum(edms_backup_exporter_scrape_errors_total{source=~".+"})')).toBe(0);
  });

  it("refreshes on its own: a new set shows up without a restart", async () => {
    await backup("adhoc", {}, ["--no-database"]);
    await prom.waitFor('edms_backup_complete_sets{tier="adhoc"} == 1', undefined, 30_000);
  });

  it("counts a source it cannot read as a scrape error and keeps that source's last values", async () => {
    const kept = (await readdir(path.join(dest, "restores"))).find((n) => n.endsWith(".kept.json"))!;
    await writeFile(path.join(dest, "restores", `zz-${kept}`), "{ not json");
    await prom.waitFor('edms_backup_exporter_scrape_errors_total{source="kept_copies"} > 0');
    expect(byComponent(await prom.query("edms_backup_kept_copies"))).toEqual({ database: 1, media: 1 });
    expect(await value('edms_backup_exporter_scrape_errors_total{source="backup_sets"}')).toBe(0);
  });
});

describe("the Grafana dashboard against this Prometheus", () => {
  it("has panels, and every panel's query parses and returns data", async () => {
    const queries = await dashboardQueries();
    expect(queries.length).toBeGreaterThan(8);
    // Data for range panels needs a few scrapes in the TSDB.
    await prom.waitFor("count_over_time(up[1m]) > 3", undefined, 30_000);
    const empty: string[] = [];
    for (const q of queries) {
      const result = await prom.query(q.expr); // throws on a query that does not parse
      if (result.length === 0) empty.push(`${q.panel}: ${q.expr}`);
    }
    expect(empty).toEqual([]);
  });
});
