// The rules around a restore's kept copies that must never say something false or lose data
// (issue 21 items 2, 6, 7, 8, 9): the record's own keepUntil is the only expiry rule, a partial
// undo leaves markers and status true, one unreadable marker hides nothing, a symlinked or
// slash-ended MEDIA_DIR finds the same kept folder, and a restore killed between its media
// renames is reported with the command that puts the folder back. Real PostgreSQL, real folders,
// the bundled CLI, a file:// destination (whose marker files the tests read and age by hand).
import { execFileSync } from "node:child_process";
import { cp, lstat, mkdtemp, readFile, realpath, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { fileDatabases } from "../helpers/file-databases.js";
import { connectionUrl } from "../helpers/pg-cluster.js";
import { sql, tableChecksums, type TestDatabase } from "../helpers/pg-test-db.js";
import { dailyBackup, runRunner, startRunner } from "../helpers/runner-cli.js";
import { mediaTreeDigest } from "../helpers/sample-data.js";
import { databasesOf, dropper, undoTarget, type UndoTarget } from "../helpers/undo-target.js";

const pg = inject("pg");
const { all: databases, create: newDatabase } = fileDatabases(pg);

let baseDest: string;
let backupTables: unknown;

beforeAll(async () => {
  const source = await newDatabase("keptrules_src");
  await sql(source.url, "create table docs (id int primary key); insert into docs values (1), (2)");
  const media = await mkdtemp(path.join(tmpdir(), "edms-keptrules-src-"));
  await writeFile(path.join(media, "from-backup.txt"), "backup\n");
  baseDest = await mkdtemp(path.join(tmpdir(), "edms-keptrules-dest-"));
  await dailyBackup({
    DATABASE_URL: source.url,
    MEDIA_DIR: media,
    BACKUP_DESTINATION: `file://${baseDest}`,
    PG_BIN_DIR: pg.binDir,
  });
  backupTables = await tableChecksums(source.url);
});

type Target = UndoTarget & { dest: string };

/** A live database and folder with their own destination (a copy of the backup). */
async function target(prefix: string): Promise<Target> {
  const dest = await mkdtemp(path.join(tmpdir(), `edms-${prefix}-dest-`));
  await cp(baseDest, dest, { recursive: true });
  return { ...(await undoTarget(pg, newDatabase, prefix, dest)), dest };
}

/** Every copy database of `db` goes into the file's list of databases to drop. */
async function dropCopiesAfter(db: TestDatabase): Promise<void> {
  for (const name of await databasesOf(pg, db)) if (name !== db.name) databases.push(dropper(pg, name));
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

interface Kept {
  runId: string;
  database: string | null;
  media: string | null;
  keepUntil: string;
}
async function statusOf(env: Record<string, string>) {
  const [j, t] = await Promise.all([
    runRunner(["status", "--json"], { ...env, STATUS_TIERS: "daily" }),
    runRunner(["status"], { ...env, STATUS_TIERS: "daily" }),
  ]);
  return { kept: (JSON.parse(j.stdout) as { keptPrevious: Kept[] }).keptPrevious, text: t.stdout };
}

/** Moves a kept marker back in time by `hours` (as if the restore had run that long ago). */
async function ageMarker(dest: string, runId: string, hours: number): Promise<void> {
  const file = path.join(dest, "restores", `${runId}.kept.json`);
  const record = JSON.parse(await readFile(file, "utf8")) as { keptAt: string; keepUntil: string };
  const shift = (t: string) => new Date(Date.parse(t) - hours * 3_600_000).toISOString();
  await writeFile(
    file,
    JSON.stringify({ ...record, keptAt: shift(record.keptAt), keepUntil: shift(record.keepUntil) }),
  );
}

describe("kept copies", () => {
  it("live until the keepUntil their restore printed, whatever KEEP_PREVIOUS_HOURS cleanup runs with (item 2)", async () => {
    const t = await target("keptrules_window");
    try {
      const restore = await runRunner(["restore", "latest", "--yes"], { ...t.env, KEEP_PREVIOUS_HOURS: "168" });
      expect(restore.code, restore.stderr).toBe(0);
      const [kept] = (await statusOf(t.env)).kept;
      expect(Date.parse(kept!.keepUntil) - Date.now()).toBeGreaterThan(167 * 3_600_000);
      // 25 hours later, a cleanup with the default window (24 h) keeps them: they are promised for 7 days.
      await ageMarker(t.dest, kept!.runId, 25);
      const early = await runRunner(["cleanup", "--yes"], t.env);
      expect(early.code, early.stderr).toBe(0);
      expect((await statusOf(t.env)).kept.map((k) => k.runId)).toEqual([kept!.runId]);
      expect(await tableChecksums(connectionUrl(pg, kept!.database!))).toEqual(t.liveTables);
      expect(await mediaTreeDigest(kept!.media!)).toEqual(t.liveMedia);
      // So does the cleanup every restore runs first (here with the default 24 h window).
      const again = await runRunner(["restore", "latest", "--yes"], t.env);
      expect(again.code, again.stderr).toBe(0);
      const both = (await statusOf(t.env)).kept.map((k) => k.runId);
      expect(both).toHaveLength(2);
      expect(both).toContain(kept!.runId);
      expect(await tableChecksums(connectionUrl(pg, kept!.database!))).toEqual(t.liveTables);
      expect(await mediaTreeDigest(kept!.media!)).toEqual(t.liveMedia);
      // Once their window is over, a plain cleanup drops them (and only them).
      await ageMarker(t.dest, kept!.runId, 150);
      const late = await runRunner(["cleanup", "--yes"], t.env);
      expect(late.code, late.stderr).toBe(0);
      expect((await statusOf(t.env)).kept.map((k) => k.runId)).toEqual(both.filter((id) => id !== kept!.runId));
      expect(await exists(kept!.media!)).toBe(false);
    } finally {
      await dropCopiesAfter(t.db);
    }
  });

  it("a partial undo says which half is still restored, and status lists only what is kept (item 6)", async () => {
    const t = await target("keptrules_partial");
    try {
      const restore = await runRunner(["restore", "latest", "--yes"], t.env);
      expect(restore.code, restore.stderr).toBe(0);
      const restoredMedia = await mediaTreeDigest(t.media);
      const [first] = (await statusOf(t.env)).kept;
      const undo = await runRunner(["undo-restore", "--yes", "--database-only"], t.env);
      expect(undo.code, undo.stderr).toBe(0);
      const done = undo.logs.find((l) => String(l.msg).startsWith("undo of"));
      expect(String(done?.msg)).toMatch(/for the database only: media folder .* is still the restored copy/);
      expect(String(done?.msg)).toContain("undo-restore --media-only");
      expect(await tableChecksums(t.db.url)).toEqual(t.liveTables);
      expect(await mediaTreeDigest(t.media)).toEqual(restoredMedia);
      // The restore's record lists only its media (its database is live again); the undo's lists
      // the restored database it displaced. No kept entry names the live database.
      const after = (await statusOf(t.env)).kept;
      const restoreRecord = after.find((k) => k.runId === first!.runId);
      expect(restoreRecord).toMatchObject({ database: null, media: first!.media });
      const undoRecord = after.find((k) => k.runId !== first!.runId);
      expect(await tableChecksums(connectionUrl(pg, undoRecord!.database!))).toEqual(backupTables);
      expect(undoRecord!.media).toBeNull();
      // The media half goes back on its own; then the restore's record is gone.
      const rest = await runRunner(["undo-restore", "--yes", "--media-only"], t.env);
      expect(rest.code, rest.stderr).toBe(0);
      expect(await mediaTreeDigest(t.media)).toEqual(t.liveMedia);
      expect((await statusOf(t.env)).kept.map((k) => k.runId)).not.toContain(first!.runId);
    } finally {
      await dropCopiesAfter(t.db);
    }
  });

  it("one unreadable marker is skipped with a warning naming it; undo and status still work (item 7)", async () => {
    const t = await target("keptrules_bad");
    try {
      const restore = await runRunner(["restore", "latest", "--yes"], t.env);
      expect(restore.code, restore.stderr).toBe(0);
      const bad = "restores/20200101T000000Z-bad000.kept.json";
      await writeFile(path.join(t.dest, bad), "{ this is not json");
      const { kept, text } = await statusOf(t.env);
      expect(kept).toHaveLength(1);
      expect(text).toMatch(/KEPT: database /);
      const keptDb = kept[0]!.database!;
      expect(text.split("\n").filter((l) => l.includes(keptDb) && !l.startsWith("KEPT:"))).toEqual([]);
      expect(text).toContain(bad);
      const undo = await runRunner(["undo-restore", "--yes"], t.env);
      expect(undo.code, undo.stderr).toBe(0);
      expect(undo.stdout).toContain(bad);
      expect(await tableChecksums(t.db.url)).toEqual(t.liveTables);
    } finally {
      await dropCopiesAfter(t.db);
    }
  });

  it("cleanup through a symlinked, slash-ended MEDIA_DIR drops the kept folder with the database (item 8)", async () => {
    const t = await target("keptrules_link");
    try {
      const restore = await runRunner(["restore", "latest", "--yes"], t.env);
      expect(restore.code, restore.stderr).toBe(0);
      const [kept] = (await statusOf(t.env)).kept;
      const link = path.join(await mkdtemp(path.join(tmpdir(), "edms-keptrules-link-")), "media-link");
      await symlink(t.media, link);
      const cleanup = await runRunner(["cleanup", "--older-than", "0", "--yes"], { ...t.env, MEDIA_DIR: `${link}/` });
      expect(cleanup.code, cleanup.stderr).toBe(0);
      expect(await exists(kept!.media!)).toBe(false);
      expect((await statusOf(t.env)).kept).toEqual([]);
    } finally {
      await dropCopiesAfter(t.db);
    }
  });
  it("undo and status through a symlinked, slash-ended MEDIA_DIR find the restore's copies and keep the link (item 8)", async () => {
    const t = await target("keptrules_linkundo");
    try {
      const restore = await runRunner(["restore", "latest", "--yes"], t.env);
      expect(restore.code, restore.stderr).toBe(0);
      const link = path.join(await mkdtemp(path.join(tmpdir(), "edms-keptrules-link-")), "media-link");
      await symlink(t.media, link);
      const viaLink = { ...t.env, MEDIA_DIR: `${link}/` };
      const [kept] = (await statusOf(viaLink)).kept;
      expect(kept?.media).toBeTruthy();
      const undo = await runRunner(["undo-restore", "--yes"], viaLink);
      expect(undo.code, undo.stderr).toBe(0);
      expect(await tableChecksums(t.db.url)).toEqual(t.liveTables);
      expect(await mediaTreeDigest(t.media)).toEqual(t.liveMedia);
      // The operator's link still points at the live folder; the swap happened behind it.
      expect((await lstat(link)).isSymbolicLink()).toBe(true);
      expect(await realpath(link)).toBe(await realpath(t.media));
      expect((await statusOf(viaLink)).kept.map((k) => k.media)).not.toContain(kept!.media);
    } finally {
      await dropCopiesAfter(t.db);
    }
  });
});

describe("a restore killed between its two media renames (item 9)", () => {
  it("status says the media folder is missing and the command that puts it back", async () => {
    const t = await target("keptrules_kill");
    const flag = path.join(path.dirname(t.media), "pause-flag");
    try {
      const running = await startRunner(["restore", "latest", "--yes"], {
        ...t.env,
        EDMS_FAULT_POINT: `restore.media-between:pause:${flag}`,
      });
      for (let i = 0; !(await exists(flag)); i++) {
        if (i > 1500) throw new Error(`the restore never reached the pause: ${(await running.result).stderr}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      running.child.kill("SIGKILL");
      await running.result;
      expect(await exists(t.media)).toBe(false);
      const { text } = await statusOf(t.env);
      const line = text.split("\n").find((l) => l.startsWith(`MISSING: media folder ${t.media} does not exist`));
      expect(line, text).toBeDefined();
      // The command it names puts the pre-restore folder back.
      const mv = /put them back with `(mv [^`]+)`/.exec(line!)?.[1];
      expect(mv, line).toBeDefined();
      execFileSync("sh", ["-c", mv!]);
      expect(await mediaTreeDigest(t.media)).toEqual(t.liveMedia);
      expect((await statusOf(t.env)).text).not.toContain("MISSING");
    } finally {
      await rm(flag, { force: true });
      await dropCopiesAfter(t.db);
    }
  });
});

describe("changes since the restore (item 3)", () => {
  it("undo refuses when rows or files changed since the restore, naming them; --discard-changes keeps them", async () => {
    const t = await target("keptrules_changed");
    try {
      const restore = await runRunner(["restore", "latest", "--yes"], t.env);
      expect(restore.code, restore.stderr).toBe(0);
      const [kept] = (await statusOf(t.env)).kept;
      // Written after the restore: one row, one new file, one file rewritten with the same size.
      await sql(t.db.url, "insert into docs values (3)");
      await writeFile(path.join(t.media, "written-after.txt"), "new\n");
      await writeFile(path.join(t.media, "from-backup.txt"), "BACKUP\n");
      const changed = { tables: await tableChecksums(t.db.url), media: await mediaTreeDigest(t.media) };
      const undo = await runRunner(["undo-restore", "--yes"], t.env);
      expect(undo.code).toBe(1);
      expect(undo.stderr).toMatch(/table public\.docs has 3 rows, the restore recorded says 2|docs.*3 rows/);
      expect(undo.stderr).toMatch(/1 added \("written-after\.txt"\)/);
      expect(undo.stderr).toMatch(/1 changed \("from-backup\.txt"\)/);
      expect(undo.stderr).toContain("--discard-changes");
      // Nothing was swapped.
      expect(await tableChecksums(t.db.url)).toEqual(changed.tables);
      expect(await mediaTreeDigest(t.media)).toEqual(changed.media);
      expect(await tableChecksums(connectionUrl(pg, kept!.database!))).toEqual(t.liveTables);
      // With the flag the undo goes ahead, and the discarded copies are kept like any replaced copy.
      const anyway = await runRunner(["undo-restore", "--yes", "--discard-changes"], t.env);
      expect(anyway.code, anyway.stderr).toBe(0);
      expect(await tableChecksums(t.db.url)).toEqual(t.liveTables);
      expect(await mediaTreeDigest(t.media)).toEqual(t.liveMedia);
      const [discarded] = (await statusOf(t.env)).kept;
      expect(await tableChecksums(connectionUrl(pg, discarded!.database!))).toEqual(changed.tables);
      expect(await mediaTreeDigest(discarded!.media!)).toEqual(changed.media);
    } finally {
      await dropCopiesAfter(t.db);
    }
  });

  it("a kept file rewritten with the same size is caught before it goes back", async () => {
    const t = await target("keptrules_keptedit");
    try {
      const restore = await runRunner(["restore", "latest", "--yes"], t.env);
      expect(restore.code, restore.stderr).toBe(0);
      const [kept] = (await statusOf(t.env)).kept;
      const restored = await mediaTreeDigest(t.media);
      await writeFile(path.join(kept!.media!, "live.txt"), "LIVE\n");
      const undo = await runRunner(["undo-restore", "--yes"], t.env);
      expect(undo.code).toBe(1);
      expect(undo.stderr).toMatch(
        /the kept copies changed since they were kept; nothing was swapped: .*1 changed \("live\.txt"\)/,
      );
      expect(await mediaTreeDigest(t.media)).toEqual(restored);
      expect(await tableChecksums(t.db.url)).toEqual(backupTables);
    } finally {
      await dropCopiesAfter(t.db);
    }
  });
});
