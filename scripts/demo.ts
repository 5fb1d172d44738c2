// `npm run demo`: the whole round trip on this machine, with nothing to set up but PostgreSQL's
// binaries: a throwaway PostgreSQL with EDMS-like data and sample media, a daily backup to a
// local folder, verify, a restore into a new database and media folder, a drill, and a summary.
import { spawn } from "node:child_process";
import { mkdir, rm } from "node:fs/promises";
import path from "node:path";
import { startPgCluster, type PgCluster } from "../test/helpers/pg-cluster.js";
import { makeMediaTree, mediaTreeDigest, seedEdmsDatabase } from "../test/helpers/sample-data.js";
import { tableChecksums } from "../test/helpers/pg-test-db.js";
import { sql } from "../test/helpers/pg-test-db.js";
import { isComplete, listBackupSets } from "../runner/src/catalog/catalog.js";
import { FileStore } from "../runner/src/store/file-store.js";

const ROOT = path.resolve(__dirname, "..");
const DEMO = path.join(ROOT, ".demo");
const BUNDLE = path.join(ROOT, "dist", "edms-backup.cjs");

interface Step {
  name: string;
  seconds: number;
  ok: boolean;
  detail: string;
}

function runner(args: string[], env: Record<string, string>): Promise<{ code: number | null; seconds: number }> {
  const started = Date.now();
  process.stdout.write(`\n$ edms-backup ${args.join(" ")}\n`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BUNDLE, ...args], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_FORMAT: "pretty", ...env },
      stdio: ["ignore", "inherit", "inherit"],
    });
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, seconds: (Date.now() - started) / 1000 }));
  });
}

function table(rows: Step[]): string {
  const lines = rows.map((r) => [r.ok ? "ok" : "FAILED", r.name, `${r.seconds.toFixed(1)} s`, r.detail]);
  const widths = [0, 1, 2].map((i) => Math.max(...lines.map((l) => l[i]!.length)));
  return lines.map((l) => l.map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c)).join("  ")).join("\n");
}

async function main(): Promise<void> {
  await rm(DEMO, { recursive: true, force: true });
  await mkdir(DEMO, { recursive: true });
  const steps: Step[] = [];
  let cluster: PgCluster | undefined;
  try {
    process.stdout.write("starting a throwaway PostgreSQL 15 and writing sample data ...\n");
    cluster = await startPgCluster();
    await sql(cluster.url("postgres"), "create database edms");
    await seedEdmsDatabase(cluster.url("edms"), { documents: 5000 });
    const media = path.join(DEMO, "media");
    await makeMediaTree(media);
    const destination = `file://${path.join(DEMO, "backups")}`;
    const base = { DATABASE_URL: cluster.url("edms"), BACKUP_DESTINATION: destination };

    const backup = await runner(["backup", "--tier", "daily", "--app-version", "demo"], { ...base, MEDIA_DIR: media });
    const stored = (await listBackupSets(new FileStore(path.join(DEMO, "backups"))))
      .filter(isComplete)
      .at(-1)?.manifest;
    const mb = (n = 0) => `${(n / 1e6).toFixed(1)} MB`;
    steps.push({
      name: "backup (daily)",
      seconds: backup.seconds,
      ok: backup.code === 0 && stored !== undefined,
      detail: stored
        ? `${stored.database?.key} ${mb(stored.database?.bytes)} (${stored.database?.tableCount} tables), ${stored.media?.key} ${mb(stored.media?.bytes)} (${stored.media?.files} files, ${mb(stored.media?.sourceBytes)} source)`
        : "no complete backup was stored",
    });
    const listed = await runner(["list"], base);
    steps.push({ name: "list", seconds: listed.seconds, ok: listed.code === 0, detail: "what was stored" });
    const verify = await runner(["verify", "latest"], base);
    steps.push({
      name: "verify",
      seconds: verify.seconds,
      ok: verify.code === 0,
      detail: "sha256, dump TOC, archive listing vs manifest",
    });

    const restoredMedia = path.join(DEMO, "restored-media");
    const restore = await runner(
      ["restore", "latest", "--yes", "--target-db", "edms_restored", "--media-dir", restoredMedia],
      base,
    );
    const sameDb =
      JSON.stringify(await tableChecksums(cluster.url("edms"))) ===
      JSON.stringify(await tableChecksums(cluster.url("edms_restored")).catch(() => []));
    const sameMedia =
      JSON.stringify(await mediaTreeDigest(media)) ===
      JSON.stringify(await mediaTreeDigest(restoredMedia).catch(() => []));
    steps.push({
      name: "restore",
      seconds: restore.seconds,
      ok: restore.code === 0 && sameDb && sameMedia,
      detail: `edms_restored ${sameDb ? "==" : "!="} edms (every table's content), ${restoredMedia} ${sameMedia ? "==" : "!="} media (every file's sha256)`,
    });
    const drill = await runner(["drill", "latest"], base);
    steps.push({
      name: "drill",
      seconds: drill.seconds,
      ok: drill.code === 0,
      detail: "scratch restore, row and file counts vs manifest",
    });
    const status = await runner(["status", "--json"], { ...base, STATUS_TIERS: "daily" });
    steps.push({ name: "status", seconds: status.seconds, ok: status.code === 0, detail: "the daily tier is fresh" });

    process.stdout.write(`\nsummary\n${table(steps)}\n\nbackups are in ${path.join(DEMO, "backups")}\n`);
    if (!steps.every((s) => s.ok)) process.exitCode = 1;
  } finally {
    await cluster?.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
