// `npm run capture:metrics`: the README's picture of the exporter's metrics, from real data. A
// throwaway PostgreSQL with the sample data and a media folder; the bundled runner makes daily,
// weekly and monthly backups (the data grows between them), a restore drill and a run that dies
// mid-way; `edms-backup exporter` serves the destination, Debian's Prometheus scrapes it every
// second, and headless Chromium saves Prometheus's own graph page as docs/metrics-prometheus.png.
import { spawn, spawnSync } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { freePort, startPgCluster, type PgCluster } from "../test/helpers/pg-cluster.js";
import { sql } from "../test/helpers/pg-test-db.js";
import { requireTool, startPrometheus, type TestPrometheus } from "../test/helpers/prometheus.js";
import { makeMediaTree, seedEdmsDatabase } from "../test/helpers/sample-data.js";

const ROOT = path.resolve(__dirname, "..");
const BUNDLE = path.join(ROOT, "dist", "edms-backup.cjs");
const OUT = path.join(ROOT, "docs", "metrics-prometheus.png");
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

function runner(args: string[], env: Record<string, string>): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BUNDLE, ...args], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_FORMAT: "json", LOG_LEVEL: "warn", ...env },
      stdio: ["ignore", "ignore", "inherit"],
    });
    child.once("error", reject);
    child.once("close", resolve);
  });
}

async function must(args: string[], env: Record<string, string>): Promise<void> {
  const code = await runner(args, env);
  if (code !== 0) throw new Error(`edms-backup ${args.join(" ")} exited ${code}`);
  process.stdout.write(`  edms-backup ${args.join(" ")}: ok\n`);
}

/** Prometheus's graph page as headless Chromium renders it (as root, no sandbox; no background networking on a closed network). */
function screenshot(chromium: string, url: string, profile: string): void {
  const shot = spawnSync(
    chromium,
    [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--hide-scrollbars",
      `--user-data-dir=${profile}`,
      "--window-size=1280,960",
      "--virtual-time-budget=15000",
      `--screenshot=${OUT}`,
      url,
    ],
    { encoding: "utf8", timeout: 120_000 },
  );
  if (shot.status !== 0) throw new Error(`chromium failed (${shot.status}): ${shot.stderr}`);
}

async function main(): Promise<void> {
  const chromium = spawnSync("sh", ["-c", "command -v chromium"], { encoding: "utf8" }).stdout.trim();
  if (!chromium) throw new Error("chromium is not installed: run `apt-get install -y chromium`");
  requireTool("prometheus");
  const work = await mkdtemp(path.join(tmpdir(), "edms-metrics-capture-"));
  let cluster: PgCluster | undefined;
  let prom: TestPrometheus | undefined;
  let exporter: ReturnType<typeof spawn> | undefined;
  try {
    process.stdout.write("a throwaway PostgreSQL with sample data, a media folder, an exporter and Prometheus ...\n");
    cluster = await startPgCluster();
    await sql(cluster.url("postgres"), "create database edms");
    await seedEdmsDatabase(cluster.url("edms"), { documents: 3000 });
    const media = path.join(work, "media");
    await makeMediaTree(media, { bigFileMiB: 4 });
    const dest = path.join(work, "backups");
    const env = {
      DATABASE_URL: cluster.url("edms"),
      MEDIA_DIR: media,
      BACKUP_DESTINATION: `file://${dest}`,
      MEDIA_REFERENCES: "documents_documentversion.file",
    };
    await must(["backup", "--tier", "monthly"], env);
    await must(["backup", "--tier", "weekly"], env);

    const port = await freePort();
    exporter = spawn(
      process.execPath,
      [BUNDLE, "exporter", "--listen", `127.0.0.1:${port}`, "--refresh-seconds", "1"],
      {
        env: {
          PATH: process.env.PATH,
          BACKUP_DESTINATION: `file://${dest}`,
          STATUS_TIERS: "daily,weekly,monthly",
          STATUS_DRILL_MAX_AGE_HOURS: "192",
          LOG_LEVEL: "warn",
        },
        stdio: ["ignore", "ignore", "inherit"],
      },
    );
    prom = await startPrometheus([`127.0.0.1:${port}`]);
    // Daily backups while the application grows: sizes and durations change from one to the next.
    for (let day = 1; day <= 5; day++) {
      await sql(
        cluster.url("edms"),
        `insert into documents_document (uuid, title, owner_id, created, modified)
         select gen_random_uuid(), 'grown ' || g, (select min(id) from auth_user), now(), now()
         from generate_series(1, ${day * 4000}) g`,
      );
      await mkdir(path.join(media, "grown"), { recursive: true });
      await writeFile(path.join(media, "grown", `day-${day}.bin`), Buffer.alloc(day * 2_000_000, day));
      await must(["backup", "--tier", "daily"], env);
      await pause(4000);
    }
    await must(["drill", "latest", "--tier", "daily"], env);
    await pause(8000);
    await prom.waitFor('edms_backup_complete_sets{tier="daily"} == 5');

    // One graph (the page scrolls to the last of several): each tier's newest backup as stored,
    // the dump, the media archive and the whole set; the daily tier grows with the data.
    const query = `g0.expr=${encodeURIComponent("edms_backup_last_success_bytes")}&g0.tab=0&g0.range_input=1m`;
    await rm(OUT, { force: true });
    screenshot(chromium, `${prom.url}/graph?${query}`, path.join(work, "chromium"));
    process.stdout.write(`wrote ${path.relative(ROOT, OUT)}\n`);
  } finally {
    await prom?.stop();
    if (exporter?.pid && exporter.exitCode === null) process.kill(exporter.pid, "SIGTERM");
    await cluster?.stop();
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`capture:metrics: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
