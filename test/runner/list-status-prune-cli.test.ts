// `list`, `status` and `prune` as operators run them: the bundled runner (plain node, no
// node_modules) against a folder of crafted backup sets, a moto bucket, and a real backup.
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, inject, it } from "vitest";
import { newBackupId } from "../../runner/src/catalog/backup-id.js";
import { resolveBackup } from "../../runner/src/catalog/catalog.js";
import { FileStore } from "../../runner/src/store/file-store.js";
import type { ListEntry } from "../../runner/src/commands/list.js";
import type { PruneReport } from "../../runner/src/commands/prune.js";
import type { StatusReport } from "../../runner/src/commands/status.js";
import type { Tier } from "../../runner/src/contract.js";
import { serializeManifest } from "../../runner/src/catalog/manifest.js";
import { runRunner } from "../helpers/runner-cli.js";
import { createTestBucket } from "../helpers/s3-bucket.js";

const s3Endpoint = inject("s3Endpoint");
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

interface CraftedSet {
  tier: Tier;
  backupId: string;
  /** Relative key -> content of every object of the set. */
  objects: Record<string, string>;
}

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

/**
 * A backup set that started `ageMs` ago: a dump, a media archive and (when complete) a manifest
 * that passes the runner's schema and matches the objects' sizes and digests.
 */
function craftSet(tier: Tier, ageMs: number, options: { complete?: boolean; suffix?: string } = {}): CraftedSet {
  const started = new Date(Date.now() - ageMs);
  const backupId = newBackupId(started, () => options.suffix ?? "aaaa");
  const dump = `PGDMP fake dump of ${backupId}`;
  const media = `fake archive of ${backupId} `.repeat(10);
  const objects: Record<string, string> = { "database.dump": dump, "storage.tar.gz": media };
  if (options.complete ?? true) {
    objects["manifest.json"] = serializeManifest({
      formatVersion: 2,
      backupId,
      tier,
      trigger: "schedule",
      startedAt: started.toISOString(),
      finishedAt: new Date(started.getTime() + 75_000).toISOString(),
      runnerVersion: "0.1.0",
      appVersion: "49b0445",
      database: {
        key: "database.dump",
        bytes: Buffer.byteLength(dump),
        sha256: sha256(dump),
        format: "custom",
        name: "edms",
        pgDumpVersion: "16.4",
        serverVersion: "16.4",
        tableCount: 2,
        rowCount: 5,
        tables: [
          { schema: "public", table: "documents", rows: 3 },
          { schema: "public", table: "users", rows: 2 },
        ],
      },
      media: {
        key: "storage.tar.gz",
        bytes: Buffer.byteLength(media),
        sha256: sha256(media),
        compression: "gzip",
        files: 4,
        sourceBytes: 4096,
      },
    });
  }
  return { tier, backupId, objects };
}

const setBytes = (set: CraftedSet) => Object.values(set.objects).reduce((sum, s) => sum + Buffer.byteLength(s), 0);

async function writeSets(root: string, sets: readonly CraftedSet[]): Promise<void> {
  for (const set of sets) {
    const dir = path.join(root, set.tier, set.backupId);
    await mkdir(dir, { recursive: true });
    for (const [name, content] of Object.entries(set.objects)) await writeFile(path.join(dir, name), content);
  }
}

/** Every `<tier>/<backupId>` folder left at the destination. */
async function setFolders(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const tier of await readdir(root)) {
    for (const id of await readdir(path.join(root, tier)).catch(() => [])) out.push(`${tier}/${id}`);
  }
  return out.sort();
}

const fileEnv = (root: string) => ({ BACKUP_DESTINATION: `file://${root}` });

describe("list", () => {
  it("shows complete and incomplete sets, newest first, as JSON and as a table", async () => {
    const root = await mkdtemp(path.join(tmpdir(), "edms-list-"));
    const daily = craftSet("daily", 2 * DAY);
    const weekly = craftSet("weekly", 5 * DAY);
    const running = craftSet("daily", HOUR, { complete: false, suffix: "bbbb" });
    const broken = craftSet("monthly", 3 * DAY);
    broken.objects["manifest.json"] = "{ truncated";
    await writeSets(root, [daily, weekly, running, broken]);

    const json = await runRunner(["list", "--json"], fileEnv(root));
    expect(json.stderr).toBe("");
    expect(json.code).toBe(0);
    const entries = JSON.parse(json.stdout) as ListEntry[];
    expect(entries.map((e) => e.backupId)).toEqual([
      running.backupId,
      daily.backupId,
      broken.backupId,
      weekly.backupId,
    ]);
    expect(entries[1]).toEqual({
      backupId: daily.backupId,
      tier: "daily",
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      finishedAt: expect.any(String),
      durationSeconds: 75,
      bytes: setBytes(daily),
      complete: true,
      datedInFuture: false,
      latest: true,
      newestOfTier: true,
      trigger: "schedule",
      database: { bytes: Buffer.byteLength(daily.objects["database.dump"]!), tables: 2, warnings: null },
      media: { bytes: Buffer.byteLength(daily.objects["storage.tar.gz"]!), files: 4 },
      missingMediaFiles: null,
      appVersion: "49b0445",
    });
    expect(entries[0]).toMatchObject({
      complete: false,
      datedInFuture: false,
      problem: expect.stringMatching(/no manifest/),
      database: null,
      media: null,
      appVersion: null,
    });
    expect(entries[2]).toMatchObject({ complete: false, problem: expect.stringMatching(/not valid JSON/) });

    const tier = await runRunner(["list", "--json", "--tier", "weekly"], fileEnv(root));
    expect((JSON.parse(tier.stdout) as ListEntry[]).map((e) => e.backupId)).toEqual([weekly.backupId]);

    const table = await runRunner(["list"], fileEnv(root));
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^BACKUP ID\s+TIER\s+STARTED \(UTC\)\s+SIZE\s+DURATION\s+CONTENTS\s+STATE$/);
    expect(lines[1]).toContain(running.backupId);
    expect(lines[1]).toContain("INCOMPLETE: no manifest");
    expect(lines[2]).toMatch(/complete, latest$/); // the set `restore latest` takes
    expect(lines[2]).toContain("1m 15s");
    // Columns are aligned: every row's TIER column starts at the same offset.
    const tierAt = lines[0]!.indexOf("TIER");
    for (const line of lines.slice(1, 5)) expect(line.slice(tierAt)).toMatch(/^(daily|weekly|monthly) /);
    expect(lines.at(-1)).toMatch(/^4 backup sets \(2 complete, 2 incomplete\), .* at file:\/\/.*, newest first$/);
  });

  it("says so when there are no backups (exit 0), and rejects bad input with exit 2", async () => {
    const root = await mkdtemp(path.join(tmpdir(), "edms-list-empty-"));
    const empty = await runRunner(["list"], fileEnv(root));
    expect(empty.code).toBe(0);
    expect(empty.stdout.trim()).toBe(`no backups at file://${root}`);
    const json = await runRunner(["list", "--json"], fileEnv(path.join(root, "does-not-exist")));
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual([]);

    const missing = await runRunner(["list"], {});
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/BACKUP_DESTINATION \(--destination\): required/);
    const badTier = await runRunner(["list", "--tier", "hourly"], fileEnv(root));
    expect(badTier.code).toBe(2);
  });

  it("lists a moto bucket, including an incomplete set", async () => {
    const bucket = await createTestBucket(s3Endpoint);
    const complete = craftSet("daily", 3 * HOUR);
    const incomplete = craftSet("daily", HOUR, { complete: false, suffix: "cccc" });
    for (const set of [complete, incomplete]) {
      for (const [name, content] of Object.entries(set.objects))
        await bucket.put(`edms/${set.tier}/${set.backupId}/${name}`, content);
    }
    const result = await runRunner(["list", "--json"], bucket.env("edms"));
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const entries = JSON.parse(result.stdout) as ListEntry[];
    expect(entries.map((e) => [e.backupId, e.complete, e.bytes])).toEqual([
      [incomplete.backupId, false, setBytes(incomplete)],
      [complete.backupId, true, setBytes(complete)],
    ]);
  });

  it("fails with one actionable message when the bucket does not exist", async () => {
    const result = await runRunner(["list"], {
      ...(await createTestBucket(s3Endpoint)).env(),
      BACKUP_DESTINATION: "s3://no-such-bucket-edms/x",
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /could not list the backups at s3:\/\/no-such-bucket-edms\/x: .*NoSuchBucket.*check BACKUP_DESTINATION/,
    );
  });

  it("shows a real backup (media only) as complete", async () => {
    const media = await mkdtemp(path.join(tmpdir(), "edms-tiny-media-"));
    await mkdir(path.join(media, "docs"));
    await writeFile(path.join(media, "docs", "a.txt"), "hello");
    await writeFile(path.join(media, "b.bin"), Buffer.alloc(2048, 7));
    const root = await mkdtemp(path.join(tmpdir(), "edms-real-"));
    const backup = await runRunner(["backup", "--tier", "adhoc", "--no-database", "--app-version", "v1"], {
      ...fileEnv(root),
      MEDIA_DIR: media,
    });
    expect(backup.stderr).toBe("");
    expect(backup.code).toBe(0);
    const backupId = backup.logs.find((l) => l.stage === "done")!.backupId as string;

    const result = await runRunner(["list", "--json"], fileEnv(root));
    expect(result.code).toBe(0);
    const entries = JSON.parse(result.stdout) as ListEntry[];
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      backupId,
      tier: "adhoc",
      complete: true,
      datedInFuture: false,
      database: null,
      media: { files: 2 },
      appVersion: "v1",
      trigger: "manual",
    });
    expect(entries[0]!.bytes).toBeGreaterThan(entries[0]!.media!.bytes);
  });
});

// A set dated in the future (a wrong clock, a copied set) would stay `latest` and FRESH for as long
// as the clock is wrong (issue 10, item 14): it is flagged and never chosen.
describe("sets dated in the future", () => {
  it("are flagged by list and status and never chosen as latest; a few minutes of skew are fine", async () => {
    const root = await mkdtemp(path.join(tmpdir(), "edms-future-"));
    const stale = craftSet("daily", 3 * DAY);
    const future = craftSet("daily", -2 * DAY, { suffix: "ffff" });
    const weeklySkewed = craftSet("weekly", -4 * 60_000, { suffix: "eeee" });
    await writeSets(root, [stale, future, weeklySkewed]);

    const status = await runRunner(["status", "--json"], { ...fileEnv(root), STATUS_TIERS: "daily,weekly" });
    const report = JSON.parse(status.stdout) as StatusReport;
    expect(report.tiers[0]).toMatchObject({ tier: "daily", state: "stale", newestBackupId: stale.backupId });
    expect(report.tiers[1]).toMatchObject({ tier: "weekly", state: "fresh", newestBackupId: weeklySkewed.backupId });
    expect(report.futureSets).toEqual([{ tier: "daily", backupId: future.backupId, startedAt: expect.any(String) }]);
    expect(status.code).toBe(1);
    const table = await runRunner(["status"], { ...fileEnv(root), STATUS_TIERS: "daily,weekly" });
    expect(table.stdout).toContain(`WARNING: daily/${future.backupId} is dated`);

    const list = await runRunner(["list", "--json"], fileEnv(root));
    const entries = JSON.parse(list.stdout) as ListEntry[];
    expect(entries.map((e) => [e.backupId, e.datedInFuture])).toEqual([
      [future.backupId, true],
      [weeklySkewed.backupId, false],
      [stale.backupId, false],
    ]);
    const listTable = await runRunner(["list"], fileEnv(root));
    expect(listTable.stdout).toMatch(/complete, DATED IN THE FUTURE/);
    expect(listTable.stdout).toMatch(/WARNING: 1 set is dated more than 5 minutes in the future/);

    const store = new FileStore(root);
    expect((await resolveBackup(store, "latest", "daily")).backupId).toBe(stale.backupId);
    expect((await resolveBackup(store, "latest")).backupId).toBe(weeklySkewed.backupId);
    // Named explicitly, it is still restorable: the operator chose it.
    expect((await resolveBackup(store, future.backupId)).backupId).toBe(future.backupId);
  });
});

describe("status", () => {
  it("exits 1 with stale and missing tiers, 0 when the expected tiers are fresh", async () => {
    const root = await mkdtemp(path.join(tmpdir(), "edms-status-"));
    const daily = craftSet("daily", 3 * HOUR);
    const weekly = craftSet("weekly", 8 * DAY);
    // A newer weekly run that never finished does not make the tier fresh.
    const weeklyRunning = craftSet("weekly", HOUR, { complete: false, suffix: "bbbb" });
    await writeSets(root, [daily, weekly, weeklyRunning]);

    const result = await runRunner(["status", "--json"], fileEnv(root));
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /weekly is 8d 00h old \(limit 7d 06h\); monthly has no complete backup; check whatever runs the backups into this folder/,
    );
    const report = JSON.parse(result.stdout) as StatusReport;
    expect(report).toMatchObject({ destination: `file://${root}`, healthy: false });
    expect(report.tiers).toEqual([
      {
        tier: "daily",
        state: "fresh",
        newestBackupId: daily.backupId,
        newestAt: expect.any(String),
        ageSeconds: expect.any(Number),
        maxAgeSeconds: 30 * 3600,
        alarmAgeSeconds: expect.any(Number),
      },
      {
        tier: "weekly",
        state: "stale",
        newestBackupId: weekly.backupId,
        newestAt: expect.any(String),
        ageSeconds: expect.any(Number),
        maxAgeSeconds: (7 * 24 + 6) * 3600,
        alarmAgeSeconds: expect.any(Number),
      },
      { tier: "monthly", state: "missing", maxAgeSeconds: (31 * 24 + 6) * 3600 },
    ]);
    expect(report.tiers[0]!.ageSeconds).toBeGreaterThanOrEqual(3 * 3600);

    const table = await runRunner(["status"], fileEnv(root));
    expect(table.code).toBe(1);
    expect(table.stdout).toMatch(/^TIER\s+STATE\s+NEWEST COMPLETE\s+AGE\s+MAX AGE\n/);
    expect(table.stdout).toMatch(/weekly\s+STALE\s+/);
    expect(table.stdout).toMatch(/UNHEALTHY: file:\/\//);

    const onlyDaily = await runRunner(["status", "--json"], { ...fileEnv(root), STATUS_TIERS: "daily" });
    expect(onlyDaily.stderr).toBe("");
    expect(onlyDaily.code).toBe(0);
    expect(JSON.parse(onlyDaily.stdout)).toMatchObject({ healthy: true, tiers: [{ tier: "daily", state: "fresh" }] });

    // A longer grace makes the 8-day-old weekly fresh again.
    const graceful = await runRunner(["status", "--json"], {
      ...fileEnv(root),
      STATUS_TIERS: "daily,weekly",
      STATUS_GRACE_HOURS: "48",
    });
    expect(graceful.code).toBe(0);

    const bad = await runRunner(["status"], { ...fileEnv(root), STATUS_TIERS: "daily,hourly" });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/STATUS_TIERS: must be a comma-separated list of tiers/);
  });

  it("reads a moto bucket", async () => {
    const bucket = await createTestBucket(s3Endpoint);
    for (const set of [craftSet("daily", HOUR), craftSet("weekly", 2 * DAY), craftSet("monthly", 20 * DAY)]) {
      for (const [name, content] of Object.entries(set.objects))
        await bucket.put(`edms/${set.tier}/${set.backupId}/${name}`, content);
    }
    const result = await runRunner(["status", "--json"], bucket.env("edms"));
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ healthy: true, destination: `s3://${bucket.name}/edms` });
  });
});

describe("prune", () => {
  it("deletes exactly the sets past retention from a folder, and nothing with --dry-run", async () => {
    const root = await mkdtemp(path.join(tmpdir(), "edms-prune-"));
    const gone = [
      craftSet("daily", 10 * DAY, { suffix: "d010" }),
      craftSet("daily", 8 * DAY, { suffix: "d008" }),
      craftSet("daily", 9 * DAY, { complete: false, suffix: "i009" }),
      craftSet("monthly", 400 * DAY, { suffix: "m400" }),
      craftSet("adhoc", 31 * DAY, { suffix: "a031" }),
    ];
    const kept = [
      craftSet("daily", 2 * DAY, { suffix: "d002" }),
      craftSet("daily", HOUR, { suffix: "d000" }),
      // Incomplete but young: maybe still running.
      craftSet("daily", 3 * HOUR, { complete: false, suffix: "i000" }),
      craftSet("daily", 3 * DAY, { complete: false, suffix: "i003" }),
      // The only complete weekly set, far past retention: kept so the tier is never empty.
      craftSet("weekly", 40 * DAY, { suffix: "w040" }),
      craftSet("monthly", 100 * DAY, { suffix: "m100" }),
      craftSet("adhoc", 29 * DAY, { suffix: "a029" }),
    ];
    await writeSets(root, [...gone, ...kept]);
    // Things that are not backup sets are never touched.
    await mkdir(path.join(root, "notes"));
    await writeFile(path.join(root, "notes", "README.txt"), "keep me");
    await mkdir(path.join(root, "daily", "not-a-backup-id"));
    await writeFile(path.join(root, "daily", "not-a-backup-id", "x"), "keep me");
    const before = await setFolders(root);
    const folder = (s: CraftedSet) => `${s.tier}/${s.backupId}`;

    const dry = await runRunner(["prune", "--dry-run", "--json"], fileEnv(root));
    expect(dry.stderr).toBe("");
    expect(dry.code).toBe(0);
    const plan = JSON.parse(dry.stdout) as PruneReport;
    expect(plan).toMatchObject({
      dryRun: true,
      retentionBy: "runner",
      retentionDays: { daily: 7, weekly: 28, monthly: 366, adhoc: 30 },
    });
    expect(
      plan.sets
        .filter((s) => s.action === "would-delete")
        .map((s) => `${s.tier}/${s.backupId}`)
        .sort(),
    ).toEqual(gone.map(folder).sort());
    expect(plan.sets.filter((s) => s.action === "kept")).toHaveLength(kept.length);
    expect(plan.sets.find((s) => s.backupId === kept[4]!.backupId)!.reason).toBe("newest complete weekly backup");
    expect(await setFolders(root)).toEqual(before);

    const table = await runRunner(["prune", "--dry-run"], fileEnv(root));
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^ACTION\s+TIER\s+BACKUP ID\s+AGE\s+SIZE\s+REASON\n/);
    expect(table.stdout).toMatch(/would delete 5 of 12 backup sets .* \(dry run: nothing was deleted\)\n$/);
    expect(await setFolders(root)).toEqual(before);

    const real = await runRunner(["prune", "--json"], fileEnv(root));
    expect(real.stderr).toBe("");
    expect(real.code).toBe(0);
    const report = JSON.parse(real.stdout) as PruneReport;
    expect(report.sets.filter((s) => s.action === "deleted")).toHaveLength(gone.length);
    expect(report.deletedBytes).toBe(gone.reduce((sum, s) => sum + setBytes(s), 0));
    expect(await setFolders(root)).toEqual(before.filter((f) => !gone.map(folder).includes(f)));
    expect(await readdir(path.join(root, "notes"))).toEqual(["README.txt"]);
    // Pruning again changes nothing; a shorter daily retention from the environment is honoured.
    const again = await runRunner(["prune", "--json"], { ...fileEnv(root), RETENTION_DAYS_DAILY: "1" });
    expect(again.code).toBe(0);
    const second = JSON.parse(again.stdout) as PruneReport;
    expect(
      second.sets
        .filter((s) => s.action === "deleted")
        .map((s) => s.backupId)
        .sort(),
    ).toEqual([kept[0]!.backupId, kept[3]!.backupId].sort());

    const bad = await runRunner(["prune"], { ...fileEnv(root), RETENTION_DAYS_WEEKLY: "0" });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/RETENTION_DAYS_WEEKLY: must be greater than zero/);
  });

  it("changes nothing on S3 and explains that lifecycle rules expire backups", async () => {
    const bucket = await createTestBucket(s3Endpoint);
    for (const set of [
      craftSet("daily", 400 * DAY, { suffix: "old0" }),
      craftSet("daily", HOUR),
      craftSet("daily", 30 * DAY, { complete: false, suffix: "inc0" }),
    ]) {
      for (const [name, content] of Object.entries(set.objects))
        await bucket.put(`edms/${set.tier}/${set.backupId}/${name}`, content);
    }
    const before = await bucket.keys();
    const result = await runRunner(["prune"], bucket.env("edms"));
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/lifecycle rules .* nothing was deleted/);
    const json = await runRunner(["prune", "--json"], bucket.env("edms"));
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ retentionBy: "bucket-lifecycle", sets: [], deletedBytes: 0 });
    expect(await bucket.keys()).toEqual(before);
  });
});
