// Restores judged by what a user cares about: the database and media come back exactly (content
// checksums, sequences, large objects, every file's bytes), and when anything is wrong the
// restore refuses and the live database and media folder are left exactly as they were.
import { mkdtemp, readFile, readdir, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { gzipSync } from "node:zlib";
import path from "node:path";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { fileDatabases } from "../helpers/file-databases.js";
import { connectionUrl } from "../helpers/pg-cluster.js";
import { largeObjectChecksums, sequenceValues, sql, tableChecksums, type TestDatabase } from "../helpers/pg-test-db.js";
import { runRunner, startRunner } from "../helpers/runner-cli.js";
import { createTestBucket } from "../helpers/s3-bucket.js";
import { mediaTreeDigest } from "../helpers/sample-data.js";
import { craftSet, readManifestFile } from "../helpers/craft-set.js";
import { seededBackup } from "../helpers/seeded-backup.js";
import { run } from "../helpers/exec.js";
import { COPY_DATABASE_RE, COPY_FOLDER_RE } from "../../runner/src/contract.js";
import { makeLiveTarget, type LiveTarget } from "../helpers/live-target.js";

const pg = inject("pg");
const s3Endpoint = inject("s3Endpoint");
const adminUrl = connectionUrl(pg, "postgres");

let source: TestDatabase;
let mediaDir: string;
let dest: string;
let backupId: string;
const { all: databases, create: newDatabase } = fileDatabases(pg);
/** Names of the live media folders this file made (its staging copies are named after them). */
const liveFolders: string[] = [];

async function liveTarget(): Promise<LiveTarget> {
  const live = await makeLiveTarget(newDatabase);
  liveFolders.push(path.basename(live.media));
  return live;
}

/**
 * Staging and scratch copies left behind by this file's restores and drills. Only names derived
 * from this file's own databases and live folders count: other test files restore on the same
 * cluster and in the same temp folder at the same time.
 */
async function leftovers(): Promise<{ databases: string[]; dirs: string[] }> {
  const rows = await sql<{ datname: string }>(adminUrl, "select datname from pg_database");
  const copy = (name: string) => COPY_DATABASE_RE.staging.test(name) || COPY_DATABASE_RE.previous.test(name);
  const ours = (name: string) => copy(name) && databases.some((db) => name.startsWith(`${db.name}__`));
  // Only copies beside this file's own live folders: other runs share the temp folder.
  const dirs = (await readdir(tmpdir())).filter((n) => {
    const m = COPY_FOLDER_RE.staging.exec(n) ?? COPY_FOLDER_RE.previous.exec(n);
    return m !== null && liveFolders.includes(m.groups!.base!);
  });
  return { databases: rows.map((r) => r.datname).filter(ours), dirs };
}

beforeAll(async () => {
  ({ source, mediaDir, dest, backupId } = await seededBackup(newDatabase, "restore", 2));
});

/** The set's dump as pg_restore reads it: database.dump.zst (the default zstd:1) through the real `zstd -d`. */
async function plainDumpOfSet(): Promise<Buffer> {
  const manifest = await readManifestFile(dest, "daily", backupId);
  const stored = path.join(dest, "daily", backupId, manifest.database!.key);
  if (!stored.endsWith(".zst")) return readFile(stored);
  const out = path.join(await mkdtemp(path.join(tmpdir(), "edms-plain-dump-")), "database.dump");
  const r = await run("zstd", ["-q", "-d", stored, "-o", out]);
  expect(r.code, r.stderr).toBe(0);
  return readFile(out);
}

describe("restore", () => {
  it("restores over an existing database and media folder, exactly", async () => {
    const live = await liveTarget();
    const result = await runRunner(
      ["restore", "--no-keep-previous", "latest", "--yes", "--target-db", live.db.name, "--media-dir", live.media],
      {
        ...(pg.binDir && {}),
        DATABASE_URL: source.url,
        BACKUP_DESTINATION: `file://${dest}`,
      },
    );
    expect(result.code, result.stderr).toBe(0);
    // The backup's contents, nothing of the old (keep_me is gone).
    expect(await tableChecksums(live.db.url)).toEqual(await tableChecksums(source.url));
    expect(await largeObjectChecksums(live.db.url)).toEqual(await largeObjectChecksums(source.url));
    expect(await sequenceValues(live.db.url)).toEqual(await sequenceValues(source.url));
    // Sequences continue where the source's would.
    const [next] = await sql<{ n: string }>(live.db.url, "select nextval('document_number_seq')::text as n");
    const [nextSource] = await sql<{ n: string }>(source.url, "select nextval('document_number_seq')::text as n");
    expect(next!.n).toBe(nextSource!.n);
    expect(await mediaTreeDigest(live.media)).toEqual(await mediaTreeDigest(mediaDir));
    expect(result.logs.find((l) => l.stage === "done")).toMatchObject({ backupId });
    expect(await leftovers()).toEqual({ databases: [], dirs: [] });
  });

  it("creates a target database that does not exist, from S3", async () => {
    const bucket = await createTestBucket(s3Endpoint);
    const backup = await runRunner(["backup", "--tier", "weekly", "--no-media"], {
      ...bucket.env(),
      DATABASE_URL: source.url,
    });
    expect(backup.code, backup.stderr).toBe(0);
    const target = `restored_${Date.now().toString(36)}`;
    const result = await runRunner(
      ["restore", "--no-keep-previous", "latest", "--tier", "weekly", "--yes", "--target-db", target],
      {
        ...bucket.env(),
        DATABASE_URL: source.url,
      },
    );
    expect(result.code, result.stderr).toBe(0);
    const url = connectionUrl(pg, target);
    expect(await tableChecksums(url)).toEqual(await tableChecksums(source.url));
    await sql(adminUrl, `drop database "${target}" with (force)`);
  });

  it("requires --yes without a terminal and changes nothing", async () => {
    const live = await liveTarget();
    const before = await live.fingerprint();
    const result = await runRunner(
      ["restore", "--no-keep-previous", backupId, "--target-db", live.db.name, "--media-dir", live.media],
      {
        DATABASE_URL: source.url,
        BACKUP_DESTINATION: `file://${dest}`,
      },
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--yes: required without a terminal/);
    expect(await live.fingerprint()).toEqual(before);
  });

  it("refuses while the application is still connected, unless told to disconnect it", async () => {
    const live = await liveTarget();
    const pgmod = await import("pg");
    const app = new pgmod.default.Client({ connectionString: live.db.url });
    await app.connect();
    app.on("error", () => undefined);
    try {
      const before = await live.fingerprint();
      const refused = await runRunner(
        ["restore", "--no-keep-previous", backupId, "--yes", "--database-only", "--target-db", live.db.name],
        {
          DATABASE_URL: source.url,
          BACKUP_DESTINATION: `file://${dest}`,
        },
      );
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/has 1 open connection.*--terminate-connections/);
      expect(await live.fingerprint()).toEqual(before);
      const forced = await runRunner(
        [
          "restore",
          "--no-keep-previous",
          backupId,
          "--yes",
          "--database-only",
          "--terminate-connections",
          "--target-db",
          live.db.name,
        ],
        { DATABASE_URL: source.url, BACKUP_DESTINATION: `file://${dest}` },
      );
      expect(forced.code, forced.stderr).toBe(0);
      expect(await tableChecksums(live.db.url)).toEqual(await tableChecksums(source.url));
    } finally {
      await app.end().catch(() => undefined);
    }
  });
});

describe("corruption and failures leave the target untouched", () => {
  async function copyOfSet(): Promise<{ root: string; dir: string }> {
    const root = await mkdtemp(path.join(tmpdir(), "edms-corrupt-"));
    // The whole destination: a store-format set's media objects live beside the tier folders.
    const r = await run("cp", ["-a", `${dest}/.`, root]);
    expect(r.code).toBe(0);
    return { root, dir: path.join(root, "daily", backupId) };
  }

  async function expectRefused(root: string, args: string[], pattern: RegExp): Promise<void> {
    const live = await liveTarget();
    const before = await live.fingerprint();
    const verify = await runRunner(["verify", backupId], { BACKUP_DESTINATION: `file://${root}` });
    expect(verify.code).toBe(1);
    expect(verify.stderr).toMatch(pattern);
    const restore = await runRunner(
      [
        "restore",
        "--no-keep-previous",
        backupId,
        "--yes",
        "--target-db",
        live.db.name,
        "--media-dir",
        live.media,
        ...args,
      ],
      {
        DATABASE_URL: source.url,
        BACKUP_DESTINATION: `file://${root}`,
      },
    );
    expect(restore.code).toBe(1);
    expect(restore.stderr).toMatch(pattern);
    expect(await live.fingerprint()).toEqual(before);
    expect(await leftovers()).toEqual({ databases: [], dirs: [] });
  }

  it("a flipped byte in the stored dump", async () => {
    const { root, dir } = await copyOfSet();
    const file = path.join(dir, "database.dump.zst"); // the default zstd:1
    const bytes = await readFile(file);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    await writeFile(file, bytes);
    await expectRefused(root, [], /database\.dump\.zst: sha256 [0-9a-f]{64} does not match the manifest/);
  });

  it("a truncated media object", async () => {
    const { root, dir } = await copyOfSet();
    const manifest = await readManifestFile(root, "daily", backupId);
    expect(manifest.media!.key).toBe("media-segments.txt"); // the default format's segment list
    await truncate(path.join(dir, manifest.media!.key), Math.floor(manifest.media!.bytes / 2));
    await expectRefused(
      root,
      [],
      /media-segments\.txt: \d+ bytes stored, the manifest says \d+ \(truncated or replaced\)/,
    );
  });

  it("a missing manifest", async () => {
    const { root, dir } = await copyOfSet();
    await run("rm", [path.join(dir, "manifest.json")]);
    await expectRefused(root, [], /is incomplete \(no manifest/);
  });

  it("a dump whose checksum matches but which pg_restore cannot complete", async () => {
    const root = await mkdtemp(path.join(tmpdir(), "edms-crafted-"));
    const good = await plainDumpOfSet();
    const id = "20260101T020000Z-dead";
    await craftSet(root, "daily", id, {
      database: { dump: good.subarray(0, Math.floor(good.length * 0.6)), tables: [] },
    });
    const live = await liveTarget();
    const before = await live.fingerprint();
    const restore = await runRunner(["restore", "--no-keep-previous", id, "--yes", "--target-db", live.db.name], {
      DATABASE_URL: source.url,
      BACKUP_DESTINATION: `file://${root}`,
    });
    expect(restore.code).toBe(1);
    expect(restore.stderr).toMatch(/pg_restore exited with code 1/);
    expect(await live.fingerprint()).toEqual(before);
    expect(await leftovers()).toEqual({ databases: [], dirs: [] });
  });

  // The decompressor runs in front of tar (joined by an OS pipe): each refusal names its tool.
  it.each([
    {
      what: "not gzip at all",
      archive: Buffer.from("this is not a gzip archive at all".repeat(100)),
      error: /gzip --decompress exited with code 1: gzip: stdin: not in gzip format/,
    },
    {
      what: "gzip of something that is not a tar archive",
      archive: gzipSync(Buffer.from("this is not a tar archive at all".repeat(100))),
      error: /tar --extract exited with code 2: tar: This does not look like a tar archive/,
    },
  ])("a media archive whose checksum matches but which cannot be extracted ($what)", async ({ archive, error }) => {
    const root = await mkdtemp(path.join(tmpdir(), "edms-crafted-"));
    const id = "20260101T020000Z-beef";
    await craftSet(root, "daily", id, { media: { archive, files: 1, sourceBytes: 1 } });
    const live = await liveTarget();
    const before = await live.fingerprint();
    const restore = await runRunner(["restore", "--no-keep-previous", id, "--yes", "--media-dir", live.media], {
      BACKUP_DESTINATION: `file://${root}`,
      PGDATABASE: "unused",
    });
    expect(restore.code).toBe(1);
    expect(restore.stderr).toMatch(error);
    expect(await live.fingerprint()).toEqual(before);
    expect(await leftovers()).toEqual({ databases: [], dirs: [] });
  });

  it("an archive with path traversal and a symlink escape writes nothing outside the target", async () => {
    const work = await mkdtemp(path.join(tmpdir(), "edms-evil-"));
    const outside = path.join(work, "outside");
    const archive = path.join(work, "evil.tar.gz");
    const script = [
      "import tarfile, io, sys",
      "t = tarfile.open(sys.argv[1], 'w:gz')",
      "def add(name, data=b'x', kind=tarfile.REGTYPE, link=''):",
      "    i = tarfile.TarInfo(name); i.type = kind; i.linkname = link; i.size = len(data) if kind == tarfile.REGTYPE else 0",
      "    t.addfile(i, io.BytesIO(data) if kind == tarfile.REGTYPE else None)",
      "add('./ok.txt')",
      "add('../outside/dotdot.txt')",
      "add(sys.argv[2] + '/absolute.txt')",
      "add('./esc', kind=tarfile.SYMTYPE, link=sys.argv[2])",
      "add('./esc/pwned.txt')",
      "add('./rel', kind=tarfile.SYMTYPE, link='../../outside')",
      "t.close()",
    ].join("\n");
    const made = await run("python3", ["-c", script, archive, outside]);
    expect(made.code, made.stderr).toBe(0);
    await run("mkdir", ["-p", outside]);
    const root = path.join(work, "dest");
    const id = "20260101T020000Z-e411";
    await craftSet(root, "daily", id, { media: { archive: await readFile(archive), files: 4, sourceBytes: 4 } });
    const live = await liveTarget();
    const before = await live.fingerprint();
    const verify = await runRunner(["verify", id], { BACKUP_DESTINATION: `file://${root}` });
    expect(verify.code).toBe(1);
    expect(verify.stderr).toMatch(/unsafe entries/);
    const restore = await runRunner(
      ["restore", "--no-keep-previous", id, "--yes", "--media-only", "--media-dir", live.media],
      {
        BACKUP_DESTINATION: `file://${root}`,
      },
    );
    expect(restore.code).toBe(1);
    expect(restore.stderr).toMatch(/refusing the media archive: unsafe entries: .*(\.\.|absolute|points outside)/);
    expect(await readdir(outside)).toEqual([]);
    expect(await readdir(work)).toEqual(expect.arrayContaining(["outside", "dest", "evil.tar.gz"]));
    expect((await readdir(work)).length).toBe(3);
    expect(await live.fingerprint()).toEqual(before);
    expect(await leftovers()).toEqual({ databases: [], dirs: [] });
  });
});

describe("interrupted restore", () => {
  it("SIGTERM mid-restore exits 143 and leaves the target as it was", async () => {
    const big = await newDatabase("restore_big");
    const init = await run(path.join(pg.binDir, "pgbench"), ["-i", "-s", "5", "-q", big.name], {
      env: { ...process.env, ...big.env },
    });
    expect(init.code, init.stderr).toBe(0);
    const bigDest = await mkdtemp(path.join(tmpdir(), "edms-big-"));
    const backup = await runRunner(["backup", "--tier", "daily", "--no-media"], {
      DATABASE_URL: big.url,
      BACKUP_DESTINATION: `file://${bigDest}`,
    });
    expect(backup.code, backup.stderr).toBe(0);
    const live = await liveTarget();
    const before = await live.fingerprint();
    const runner = await startRunner(
      ["restore", "--no-keep-previous", "latest", "--yes", "--target-db", live.db.name],
      {
        DATABASE_URL: big.url,
        BACKUP_DESTINATION: `file://${bigDest}`,
      },
    );
    // Wait until the staging database is being filled, then stop the run as Kubernetes would.
    for (let i = 0; i < 400 && (await leftovers()).databases.length === 0; i++)
      await new Promise((r) => setTimeout(r, 25));
    expect((await leftovers()).databases).toHaveLength(1);
    runner.child.kill("SIGTERM");
    const result = await runner.result;
    expect(result.code).toBe(143);
    expect(result.stderr).toMatch(/interrupted by SIGTERM/);
    expect(await live.fingerprint()).toEqual(before);
    expect(await leftovers()).toEqual({ databases: [], dirs: [] });
  });
});

describe("drill", () => {
  it("passes for a good backup and leaves no scratch copies", async () => {
    const result = await runRunner(["drill", "--json"], {
      DATABASE_URL: source.url,
      BACKUP_DESTINATION: `file://${dest}`,
    });
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as {
      ok: boolean;
      checks: Array<{ name: string; ok: boolean }>;
      restoreSeconds: number;
    };
    expect(report.ok).toBe(true);
    expect(report.checks.map((c) => [c.name, c.ok]).sort()).toEqual([
      ["database", true],
      ["media", true],
    ]);
    expect(report.restoreSeconds).toBeGreaterThan(0);
    expect(await leftovers()).toEqual({ databases: [], dirs: [] });
  });

  it("fails when the restored data does not match the manifest's counts", async () => {
    const root = await mkdtemp(path.join(tmpdir(), "edms-drillfail-"));
    const good = await plainDumpOfSet();
    const manifest = await readManifestFile(dest, "daily", backupId);
    const tables = manifest.database!.tables!.map((t) => (t.table === "auth_user" ? { ...t, rows: t.rows + 1 } : t));
    await craftSet(root, "daily", "20260101T020000Z-f00d", { database: { dump: good, tables } });
    const result = await runRunner(["drill", "latest"], {
      DATABASE_URL: source.url,
      BACKUP_DESTINATION: `file://${root}`,
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /drill of daily\/20260101T020000Z-f00d FAILED: database: .*auth_user has \d+ rows, the manifest says \d+/,
    );
    expect(await leftovers()).toEqual({ databases: [], dirs: [] });
  });
});
