// An undo-restore that fails or is stopped half-way (issue 21, items 1 and 4): whatever step it
// fails at, nothing is lost (the pre-restore copy and the restored copy both still exist, under a
// name `status` lists), the live names are back or the rerun finishes them, and the run's one
// message says where each copy is and which command finishes. Real PostgreSQL, real folders, the
// bundled CLI; the media swap fails for a real reason (the media folder is a mount point).
import { chmod, mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { run } from "../helpers/exec.js";
import { fileDatabases } from "../helpers/file-databases.js";
import { connectionUrl } from "../helpers/pg-cluster.js";
import { sql, tableChecksums, type TestDatabase } from "../helpers/pg-test-db.js";
import { dailyBackup, runRunner, startRunner, type RunnerResult } from "../helpers/runner-cli.js";
import { mediaTreeDigest } from "../helpers/sample-data.js";
import {
  databasesOf as copyDatabases,
  dropper as dropDatabaseLater,
  undoTarget,
  type UndoTarget,
} from "../helpers/undo-target.js";

const pg = inject("pg");
const { all: databases, create: newDatabase } = fileDatabases(pg);
const asRoot = process.getuid?.() === 0;

let dest: string;
let backupTables: unknown;
let backupMedia: unknown;

beforeAll(async () => {
  const source = await newDatabase("undoint_src");
  await sql(
    source.url,
    "create table docs (id int primary key, v text); insert into docs values (1, 'backup'), (2, 'b')",
  );
  const media = await mkdtemp(path.join(tmpdir(), "edms-undoint-src-"));
  await writeFile(path.join(media, "from-backup.txt"), "backup\n");
  dest = await mkdtemp(path.join(tmpdir(), "edms-undoint-dest-"));
  await dailyBackup({
    DATABASE_URL: source.url,
    MEDIA_DIR: media,
    BACKUP_DESTINATION: `file://${dest}`,
    PG_BIN_DIR: pg.binDir,
  });
  backupTables = await tableChecksums(source.url);
  backupMedia = await mediaTreeDigest(media);
});

type Restored = UndoTarget;

/** A live database and folder, restored over (keeping the replaced copies). */
async function restored(prefix: string): Promise<Restored> {
  const t = await undoTarget(pg, newDatabase, prefix, dest);
  const restore = await runRunner(["restore", "latest", "--yes"], t.env);
  expect(restore.code, restore.stderr).toBe(0);
  expect(await tableChecksums(t.db.url)).toEqual(backupTables);
  return t;
}

const databasesOf = (db: TestDatabase) => copyDatabases(pg, db);

/** The tables of each of `names`, keyed by name. */
async function contents(names: string[]): Promise<unknown[]> {
  return Promise.all(names.map((n) => tableChecksums(connectionUrl(pg, n))));
}

interface StatusJson {
  keptPrevious: Array<{ database: string | null; media: string | null }>;
  unfinishedUndos: Array<{
    database: { kept: string; displaced: string } | null;
    media: { kept: string; displaced: string } | null;
  }>;
  runCopies?: Array<{ kind: string; where: string; name: string }>;
}

const dropper = (name: string) => dropDatabaseLater(pg, name);

async function status(env: Record<string, string>, withText = true): Promise<{ json: StatusJson; text: string }> {
  const [j, t] = await Promise.all([
    runRunner(["status", "--json"], { ...env, STATUS_TIERS: "daily" }),
    withText ? runRunner(["status"], { ...env, STATUS_TIERS: "daily" }) : undefined,
  ]);
  return { json: JSON.parse(j.stdout) as StatusJson, text: t?.stdout ?? "" };
}

describe.skipIf(!asRoot)("an undo whose media swap fails (issue 21 item 1)", () => {
  it("keeps the pre-restore database, puts the restored one back and says so", async () => {
    const r = await restored("undoint_mnt");
    // A mount point cannot be renamed (EBUSY): what an undo meets when the media folder became a
    // volume after the restore, or when the runner may not rename in its parent.
    const bound = await run("mount", ["--bind", r.media, r.media]);
    expect(bound.code, bound.stderr).toBe(0);
    try {
      const undo = await runRunner(["undo-restore", "--yes"], r.env);
      expect(undo.code).toBe(1);
      expect(undo.stderr).toMatch(/media/);
      // The restored copy is live again, the pre-restore copy is still kept, nothing else exists.
      expect(await tableChecksums(r.db.url)).toEqual(backupTables);
      expect(await mediaTreeDigest(r.media)).toEqual(backupMedia);
      const names = await databasesOf(r.db);
      const kept = names.filter((n) => n.includes("__edms_previous_"));
      expect(kept).toHaveLength(1);
      expect(await contents(kept)).toEqual([r.liveTables]);
      expect(undo.stderr).toContain(`still kept as ${kept[0]}`);
      const { json } = await status(r.env);
      expect(json.keptPrevious.map((k) => k.database)).toEqual(kept);
      // A second attempt, once the folder can be renamed, undoes the restore completely.
      expect((await run("umount", [r.media])).code).toBe(0);
      const again = await runRunner(["undo-restore", "--yes"], r.env);
      expect(again.code, again.stderr).toBe(0);
      expect(await tableChecksums(r.db.url)).toEqual(r.liveTables);
      expect(await mediaTreeDigest(r.media)).toEqual(r.liveMedia);
    } finally {
      await run("umount", [r.media]);
      databases.push(
        ...(await databasesOf(r.db)).map(
          (name) =>
            ({
              name,
              drop: async () =>
                void (await sql(connectionUrl(pg, "postgres"), `drop database if exists "${name}" with (force)`)),
            }) as TestDatabase,
        ),
      );
    }
  });
});

describe.skipIf(!asRoot)(
  "an undo run by a non-root runner that may not rename in the media folder's parent (issue 21 item 1)",
  () => {
    it("loses nothing: the pre-restore database stays kept and listed, and a rerun once allowed finishes", async () => {
      // The pod's user (uid 10001) owns the destination and the folders and restores; then only
      // the parent's write bit goes, as on a volume mounted read-only above the media folder.
      const pod = { uid: 10001, gid: 10001 };
      const r = await undoTarget(pg, newDatabase, "undoint_perm", dest);
      const parent = path.dirname(r.media);
      expect((await run("chown", ["-R", "10001:10001", parent, dest])).code).toBe(0);
      const restore = await runRunner(["restore", "latest", "--yes"], r.env, pod);
      expect(restore.code, restore.stderr).toBe(0);
      await chmod(parent, 0o555);
      try {
        const undo = await runRunner(["undo-restore", "--yes"], r.env, pod);
        expect(undo.code, undo.stderr).not.toBe(0);
        expect(undo.stderr).toMatch(/media/);
        // The restored copy is live, the pre-restore database is still kept under a listed name.
        expect(await tableChecksums(r.db.url)).toEqual(backupTables);
        expect(await mediaTreeDigest(r.media)).toEqual(backupMedia);
        const kept = (await databasesOf(r.db)).filter((n) => n.includes("__edms_previous_"));
        expect(kept).toHaveLength(1);
        expect(await contents(kept)).toEqual([r.liveTables]);
        // The destination is shared with this file's other tests: only this target's copies count.
        const { json } = await status(r.env, false);
        const listed = json.keptPrevious
          .map((k) => k.database)
          .filter((d) => d?.startsWith(kept[0]!.split("__edms_")[0]!));
        expect(listed).toEqual(kept);
        await chmod(parent, 0o755);
        const again = await runRunner(["undo-restore", "--yes"], r.env, pod);
        expect(again.code, again.stderr).toBe(0);
        expect(await tableChecksums(r.db.url)).toEqual(r.liveTables);
        expect(await mediaTreeDigest(r.media)).toEqual(r.liveMedia);
      } finally {
        await chmod(parent, 0o755);
        for (const name of await databasesOf(r.db)) if (name !== r.db.name) databases.push(dropper(name));
      }
    });
  },
);

// Issue 21 items 1 and 4: every step of the undo, stopped by SIGTERM, SIGKILL or a failure. One
// restore, then a chain of undos (each puts back what the previous one replaced), each stopped at
// one step and then finished by the rerun the run (or status) names. After every stop: both
// contents still exist under some name, status lists every copy and, when an undo is unfinished,
// the command that finishes it; after the rerun the undo is complete.
const POINTS = [
  "undo.verified",
  "undo.before-swap",
  "undo.database-between",
  "undo.media-before",
  "undo.media-between",
  "undo.after-swap",
] as const;
type How = "SIGTERM" | "SIGKILL" | "fail";

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

/** Runs undo-restore stopped at `point`: paused there, then signalled (or failing there). */
async function stoppedUndo(env: Record<string, string>, point: string, how: How, flag: string): Promise<RunnerResult> {
  const spec = how === "fail" ? `${point}:fail` : `${point}:pause:${flag}`;
  const running = await startRunner(["undo-restore", "--yes"], { ...env, EDMS_FAULT_POINT: spec });
  if (how === "fail") return running.result;
  let done = false;
  void running.result.then(() => (done = true));
  while (!(await exists(flag))) {
    if (done) throw new Error(`the undo ended before ${point}: ${(await running.result).stderr}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  running.child.kill(how);
  if (how === "SIGTERM") {
    // Let the handler run while the step is still paused, then let the step go on.
    await new Promise((r) => setTimeout(r, 300));
    await rm(flag, { force: true });
  }
  const result = await running.result;
  await rm(flag, { force: true });
  return result;
}

/** The contents under every name of the target (live and copies): tables by database, digests by folder. */
async function everything(r: Restored) {
  const names = await databasesOf(r.db);
  const parent = path.dirname(r.media);
  const folders = [
    ...((await exists(r.media)) ? [r.media] : []),
    ...(await readdir(parent)).filter((n) => n.startsWith(".media.edms-")).map((n) => path.join(parent, n)),
  ];
  return {
    databases: names,
    tables: await contents(names),
    folders,
    media: await Promise.all(folders.map((f) => mediaTreeDigest(f))),
  };
}

describe("an undo stopped at each step (issue 21 item 4)", () => {
  let r: Restored;
  // What is live now (the restored copy) and what the undo puts back (the pre-restore copy).
  let live: { tables: unknown; media: unknown };
  let other: { tables: unknown; media: unknown };
  let flag: string;
  beforeAll(async () => {
    r = await restored("undoint_steps");
    live = { tables: backupTables, media: backupMedia };
    other = { tables: r.liveTables, media: r.liveMedia };
    flag = path.join(path.dirname(r.media), "pause-flag");
  });
  afterAll(async () => {
    databases.push(...(await databasesOf(r.db)).map(dropper));
  });

  it.each(POINTS)("at %s: loses nothing, status tells the truth, and the rerun it names finishes", async (point) => {
    for (const how of ["SIGTERM", "SIGKILL", "fail"] as const) {
      const label = `${how} at ${point}`;
      const result = await stoppedUndo(r.env, point, how, flag);
      const all = await everything(r);
      // Nothing lost: both contents exist under some name.
      expect(all.tables, label).toContainEqual(live.tables);
      expect(all.tables, label).toContainEqual(other.tables);
      expect(all.media, label).toContainEqual(live.media);
      expect(all.media, label).toContainEqual(other.media);
      const { json, text } = await status(r.env);
      const listed = new Set([
        ...json.keptPrevious.flatMap((k) => [k.database, k.media]),
        ...json.unfinishedUndos.flatMap((u) => [
          u.database?.displaced,
          u.database?.kept,
          u.media?.displaced,
          u.media?.kept,
        ]),
      ]);
      for (const name of [...all.databases.filter((n) => n !== r.db.name), ...all.folders.filter((f) => f !== r.media)])
        expect(listed.has(name), `${label}: ${name} is not listed by status:\n${text}`).toBe(true);
      // (Other test files' copies on the shared server are listed too; only this target's count.)
      const ours = [...all.databases, ...all.folders];
      expect(
        text.split("\n").filter((l) => l.startsWith("LEFT BEHIND") && ours.some((n) => l.includes(n))),
        label,
      ).toEqual([]);

      const swapped = how === "SIGTERM" && point !== "undo.verified" && point !== "undo.before-swap";
      const unfinished = how === "SIGKILL" && point !== "undo.verified";
      if (how === "SIGTERM") {
        expect(result.code, `${label}: ${result.stderr}`).toBe(swapped ? 0 : 143);
        // One log line says what happened to the swap.
        expect(
          result.logs.some((l) =>
            String(l.msg).includes(
              swapped ? "finishing the swap that has started" : "before the swap: nothing was changed",
            ),
          ),
          `${label}: ${result.stdout}`,
        ).toBe(true);
      } else if (how === "SIGKILL") expect(result.signal, label).toBe("SIGKILL");
      else {
        expect(result.code, label).toBe(1);
        expect(result.stderr, label).toMatch(/nothing was lost|injected failure/);
      }
      expect(json.unfinishedUndos.length, `${label}:\n${text}`).toBe(unfinished ? 1 : 0);
      if (unfinished) {
        expect(text, label).toContain("UNFINISHED UNDO");
        expect(text, label).toContain("edms-backup undo-restore --yes");
        if (point === "undo.database-between") expect(text, label).toMatch(/MISSING: database .* undo-restore --yes/);
        if (point === "undo.media-between") expect(text, label).toMatch(/MISSING: media folder .* undo-restore --yes/);
      }
      if (!swapped) {
        // Stopped before (or rolled back, or killed): the rerun finishes the undo.
        const again = await runRunner(["undo-restore", "--yes"], r.env);
        expect(again.code, `${label}, rerun: ${again.stderr}`).toBe(0);
      }
      // The undo is complete: what was kept is live, what was live is kept and listed.
      const after = await status(r.env, false);
      expect(after.json.unfinishedUndos, label).toEqual([]);
      expect(await tableChecksums(r.db.url), label).toEqual(other.tables);
      expect(await mediaTreeDigest(r.media), label).toEqual(other.media);
      const kept = after.json.keptPrevious[0]!;
      expect(await tableChecksums(connectionUrl(pg, kept.database!)), label).toEqual(live.tables);
      expect(await mediaTreeDigest(kept.media!), label).toEqual(live.media);
      [live, other] = [other, live];
    }
  });
});

/** A media folder's own entries (not the runner's copies inside a mounted volume). */
async function ownEntries(dir: string) {
  return (await mediaTreeDigest(dir)).filter((e) => !e.path.startsWith(".edms-"));
}

// The media folder as Kubernetes mounts it: a mount point, so the restore stages inside it and the
// swaps move entries instead of renaming the folder. A SIGKILL at each media step of the undo,
// then the rerun that status names.
describe.skipIf(!asRoot)("an undo in a mounted media volume, killed at each media step (issue 21 item 4)", () => {
  it("loses nothing and the rerun finishes the entry moves", async () => {
    const t = await undoTarget(pg, newDatabase, "undoint_vol", dest);
    // A filesystem of its own, as a volume is (a bind mount of the same filesystem is not
    // recognised as a mount point by the restore's layout choice: see the closing note of issue 21).
    expect((await run("mount", ["-t", "tmpfs", "-o", "size=8m", "tmpfs", t.media])).code).toBe(0);
    await writeFile(path.join(t.media, "live.txt"), "live\n");
    const flag = path.join(path.dirname(t.media), "pause-flag");
    try {
      const restore = await runRunner(["restore", "latest", "--yes"], t.env);
      expect(restore.code, restore.stderr).toBe(0);
      let live: unknown = await ownEntries(t.media);
      let other: unknown = t.liveMedia;
      for (const point of ["undo.media-before", "undo.media-between", "undo.after-swap"]) {
        const result = await stoppedUndo(t.env, point, "SIGKILL", flag);
        expect(result.signal, point).toBe("SIGKILL");
        const { json, text } = await status(t.env);
        expect(json.unfinishedUndos.length, `${point}:\n${text}`).toBe(1);
        expect(text, point).toContain("edms-backup undo-restore --yes");
        const again = await runRunner(["undo-restore", "--yes"], t.env);
        expect(again.code, `${point}, rerun: ${again.stderr}`).toBe(0);
        expect(await ownEntries(t.media), point).toEqual(other);
        const [kept] = (await status(t.env, false)).json.keptPrevious;
        expect(kept!.media!.startsWith(`${t.media}/.edms-previous-`), point).toBe(true);
        expect(await mediaTreeDigest(kept!.media!), point).toEqual(live);
        [live, other] = [other, live];
      }
    } finally {
      await rm(flag, { force: true });
      await run("umount", [t.media]);
      databases.push(...(await databasesOf(t.db)).filter((n) => n !== t.db.name).map(dropper));
    }
  });
});
