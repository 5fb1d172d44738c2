// restore --scratch-dir/--jobs (RESTORE_SCRATCH_DIR/RESTORE_JOBS): the dump is decoded into a
// private folder in the scratch directory, its stored bytes' sha256 is checked BEFORE pg_restore
// reads the file with --jobs, and the copy is gone afterwards whether the restore succeeded,
// was refused or failed. Bad values are bad input (exit 2) and touch nothing.
import { mkdtemp, readFile, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { fileDatabases } from "../helpers/file-databases.js";
import { newAgeKey } from "../helpers/age-key.js";
import { craftSet, readManifestFile } from "../helpers/craft-set.js";
import { run } from "../helpers/exec.js";
import { makeLiveTarget, type LiveTarget } from "../helpers/live-target.js";
import { largeObjectChecksums, tableChecksums, type TestDatabase } from "../helpers/pg-test-db.js";
import { runRunner } from "../helpers/runner-cli.js";
import { mediaTreeDigest } from "../helpers/sample-data.js";
import { seededBackup } from "../helpers/seeded-backup.js";

const pg = inject("pg");

let source: TestDatabase;
let mediaDir: string;
let dest: string;
let backupId: string;
const { create: newDatabase } = fileDatabases(pg);

const liveTarget = (): Promise<LiveTarget> => makeLiveTarget(newDatabase, "scratch-live");
const scratchDir = () => mkdtemp(path.join(tmpdir(), "edms-scratch-"));

beforeAll(async () => {
  ({ source, mediaDir, dest, backupId } = await seededBackup(newDatabase, "scratch", 1));
});

describe("restore from a verified scratch copy with pg_restore --jobs", { timeout: 240_000 }, () => {
  it("restores the same data with --jobs 2 (flags) and RESTORE_JOBS (environment), leaving the scratch folder empty", async () => {
    for (const how of ["flags", "env"] as const) {
      const scratch = await scratchDir();
      const live = await liveTarget();
      const args = ["restore", backupId, "--yes", "--target-db", live.db.name, "--media-dir", live.media];
      const result = await runRunner(how === "flags" ? [...args, "--scratch-dir", scratch, "--jobs", "2"] : args, {
        DATABASE_URL: source.url,
        BACKUP_DESTINATION: `file://${dest}`,
        ...(how === "env" ? { RESTORE_SCRATCH_DIR: scratch, RESTORE_JOBS: "3" } : {}),
      });
      expect(result.code, result.stderr).toBe(0);
      expect(await tableChecksums(live.db.url)).toEqual(await tableChecksums(source.url));
      expect(await largeObjectChecksums(live.db.url)).toEqual(await largeObjectChecksums(source.url));
      expect(await mediaTreeDigest(live.media)).toEqual(await mediaTreeDigest(mediaDir));
      expect(await readdir(scratch)).toEqual([]);
    }
  });

  // The scratch copy is decoded by zstd itself (zstd -d -o) for database.dump.zst, after age for
  // an encrypted set; a dump with pg_dump's own compression (or none) is copied as it is stored.
  it.each([
    { spec: "zstd:1", encrypted: true },
    { spec: "gzip:6", encrypted: false },
    { spec: "none", encrypted: true },
  ])("restores a $spec dump (encrypted: $encrypted) from its scratch copy", async ({ spec, encrypted }) => {
    const work = await mkdtemp(path.join(tmpdir(), "edms-scratch-spec-"));
    const key = encrypted ? await newAgeKey(work) : undefined;
    const backup = await runRunner(["backup", "--tier", "daily", "--no-media"], {
      DATABASE_URL: source.url,
      BACKUP_DESTINATION: `file://${work}/dest`,
      PG_DUMP_COMPRESSION: spec,
      ...(key ? { ENCRYPTION_RECIPIENTS: key.recipient } : {}),
    });
    expect(backup.code, backup.stderr).toBe(0);
    const scratch = await scratchDir();
    const target = await newDatabase("scratch_spec");
    const restore = await runRunner(
      [
        "restore",
        "latest",
        "--yes",
        "--no-keep-previous",
        "--target-db",
        target.name,
        "--scratch-dir",
        scratch,
        "--jobs",
        "2",
      ],
      {
        DATABASE_URL: source.url,
        BACKUP_DESTINATION: `file://${work}/dest`,
        ...(key ? { AGE_IDENTITY_FILE: key.file } : {}),
      },
    );
    expect(restore.code, restore.stderr).toBe(0);
    expect(await tableChecksums(target.url)).toEqual(await tableChecksums(source.url));
    expect(await largeObjectChecksums(target.url)).toEqual(await largeObjectChecksums(source.url));
    expect(await readdir(scratch)).toEqual([]);
  });

  it("a flipped byte is refused by the checksum before pg_restore runs; target untouched, scratch empty", async () => {
    const root = await mkdtemp(path.join(tmpdir(), "edms-scratch-bad-"));
    expect((await run("cp", ["-a", path.join(dest, "daily"), root])).code).toBe(0);
    const manifest = await readManifestFile(root, "daily", backupId);
    const file = path.join(root, "daily", backupId, manifest.database!.key);
    const bytes = await readFile(file);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    await writeFile(file, bytes);
    const scratch = await scratchDir();
    const live = await liveTarget();
    const before = await live.fingerprint();
    const result = await runRunner(
      [
        "restore",
        backupId,
        "--yes",
        "--database-only",
        "--target-db",
        live.db.name,
        "--scratch-dir",
        scratch,
        "--jobs",
        "2",
      ],
      { DATABASE_URL: source.url, BACKUP_DESTINATION: `file://${root}` },
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/database\.dump\.zst: sha256 [0-9a-f]{64} does not match the manifest/);
    expect(result.stderr).not.toMatch(/pg_restore/);
    expect(await live.fingerprint()).toEqual(before);
    expect(await readdir(scratch)).toEqual([]);
  });

  it("a dump pg_restore cannot finish fails the restore, leaves the target as it was and the scratch folder empty", async () => {
    const root = await mkdtemp(path.join(tmpdir(), "edms-scratch-crafted-"));
    // A plain dump cut short, with a manifest that vouches for exactly these bytes (format 1).
    const manifest = await readManifestFile(dest, "daily", backupId);
    const plain = path.join(await mkdtemp(path.join(tmpdir(), "edms-scratch-plain-")), "database.dump");
    expect(
      (await run("zstd", ["-q", "-d", path.join(dest, "daily", backupId, manifest.database!.key), "-o", plain])).code,
    ).toBe(0);
    const good = await readFile(plain);
    const id = "20260101T020000Z-5c5c";
    await craftSet(root, "daily", id, {
      database: { dump: good.subarray(0, Math.floor(good.length * 0.6)), tables: [] },
    });
    const scratch = await scratchDir();
    const live = await liveTarget();
    const before = await live.fingerprint();
    const result = await runRunner(
      ["restore", id, "--yes", "--target-db", live.db.name, "--scratch-dir", scratch, "--jobs", "2"],
      { DATABASE_URL: source.url, BACKUP_DESTINATION: `file://${root}` },
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/pg_restore exited with code 1/);
    expect(await live.fingerprint()).toEqual(before);
    expect(await readdir(scratch)).toEqual([]);
  });

  it("bad values are bad input: exit 2 naming each, nothing touched", async () => {
    const file = path.join(await scratchDir(), "a-file");
    await writeFile(file, "x");
    const live = await liveTarget();
    const before = await live.fingerprint();
    const cases: [string[], Record<string, string>, RegExp][] = [
      [["--scratch-dir", "/tmp", "--jobs", "0"], {}, /RESTORE_JOBS \(--jobs\): must be greater than zero.*\(got "0"\)/],
      [
        ["--scratch-dir", "/tmp", "--jobs", "two"],
        {},
        /RESTORE_JOBS \(--jobs\): must be a whole number.*\(got "two"\)/,
      ],
      [["--scratch-dir", "/tmp", "--jobs", "65"], {}, /RESTORE_JOBS \(--jobs\): must be at most 64/],
      [["--jobs", "4"], {}, /RESTORE_JOBS \(--jobs\): 4 jobs need RESTORE_SCRATCH_DIR \(--scratch-dir\)/],
      [
        ["--scratch-dir", "relative/dir"],
        {},
        /RESTORE_SCRATCH_DIR \(--scratch-dir\): must be an absolute path \(got "relative\/dir"\)/,
      ],
      [
        ["--scratch-dir", "/nonexistent/scratch"],
        {},
        /RESTORE_SCRATCH_DIR \(--scratch-dir\): \/nonexistent\/scratch does not exist/,
      ],
      [["--scratch-dir", file], {}, /RESTORE_SCRATCH_DIR \(--scratch-dir\): .* is not a directory/],
      [[], { RESTORE_SCRATCH_DIR: "/tmp", RESTORE_JOBS: "-1" }, /RESTORE_JOBS \(--jobs\): must be a whole number/],
    ];
    for (const [flags, env, pattern] of cases) {
      const result = await runRunner(
        ["restore", backupId, "--yes", "--target-db", live.db.name, "--media-dir", live.media, ...flags],
        { DATABASE_URL: source.url, BACKUP_DESTINATION: `file://${dest}`, ...env },
      );
      expect(result.code, `${flags.join(" ")} ${JSON.stringify(env)}: ${result.stderr}`).toBe(2);
      expect(result.stderr).toMatch(pattern);
    }
    expect(await live.fingerprint()).toEqual(before);
  });
});

// Space (issue 21): a full scratch folder used to fail with zstd's "error 69 : Final skip error";
// a media volume out of inodes passed the byte check and failed half-way through extracting.
describe.skipIf(process.getuid?.() !== 0)("no space, said plainly", { timeout: 240_000 }, () => {
  const mounts: string[] = [];
  async function tmpfs(options: string): Promise<string> {
    const dir = await mkdtemp(path.join(tmpdir(), "edms-space-"));
    const mounted = await run("mount", ["-t", "tmpfs", "-o", options, "tmpfs", dir]);
    expect(mounted.code, mounted.stderr).toBe(0);
    mounts.push(dir);
    return dir;
  }
  afterAll(async () => {
    for (const m of mounts) await run("umount", [m]);
  });
  /** A database-only restore of the seeded set over a new live target, through `scratch`. */
  async function restoreDatabaseVia(scratch: string) {
    const live = await liveTarget();
    const before = await live.fingerprint();
    const result = await runRunner(
      ["restore", backupId, "--yes", "--target-db", live.db.name, "--database-only", "--scratch-dir", scratch],
      { DATABASE_URL: source.url, BACKUP_DESTINATION: `file://${dest}` },
    );
    return { result, live, before };
  }

  it("a scratch folder smaller than the stored dump is refused before anything is downloaded", async () => {
    const scratch = await tmpfs("size=4k");
    const { result, live, before } = await restoreDatabaseVia(scratch);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`no space in RESTORE_SCRATCH_DIR (--scratch-dir) ${scratch}`);
    expect(await live.fingerprint()).toEqual(before);
  });

  it("a scratch folder that fills up while the zstd dump decodes says 'no space left', not zstd's error 69", async () => {
    const manifest = await readManifestFile(dest, "daily", backupId);
    expect(manifest.database!.key).toBe("database.dump.zst");
    const stored = manifest.database!.bytes;
    const decoded = await run("sh", [
      "-c",
      `zstd -d -c "$1" | wc -c`,
      "sh",
      path.join(dest, "daily", backupId, "database.dump.zst"),
    ]);
    const decodedBytes = Number(decoded.stdout.trim());
    expect(decodedBytes).toBeGreaterThan(stored + 16 * 1024);
    // Room for the stored size, not for the decoded dump.
    const scratch = await tmpfs(`size=${Math.ceil((stored + (decodedBytes - stored) / 2) / 4096) * 4}k`);
    const { result, live, before } = await restoreDatabaseVia(scratch);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `no space left in RESTORE_SCRATCH_DIR (--scratch-dir) ${scratch} while decoding the dump`,
    );
    expect(await live.fingerprint()).toEqual(before);
    expect(await readdir(scratch)).toEqual([]);
  });

  it("a media volume with bytes to spare but no free inodes is refused before staging", async () => {
    const manifest = await readManifestFile(dest, "daily", backupId);
    expect(manifest.media!.files).toBeGreaterThan(2);
    const volume = await tmpfs("size=64m,nr_inodes=3");
    const result = await runRunner(
      ["restore", backupId, "--yes", "--media-only", "--no-keep-previous", "--media-dir", volume],
      { BACKUP_DESTINATION: `file://${dest}` },
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/no space for the staging copy: it needs at least \d+ free inodes/);
    expect(await readdir(volume)).toEqual([]);
  });
});
