// Store-format sets written by the runner before per-set metadata was cut into segments: each set
// holds its whole index (media-index.jsonl.zst[.age]), object list (media-objects.txt) and stat
// cache (media-stat-cache.sealed). test/fixtures/whole-file-store-sets holds two such sets made by
// that runner (commit 58872e5) from one tiny wild tree (a non-UTF-8 name, a newline in a name, a
// hard link, a symlink, an empty file, two files with one content): one plain, one encrypted with
// the fixture's age key. Whatever the runner writes now, these must keep verifying, restoring byte
// for byte, being marked by gc and serving as the next backup's stat cache.
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runGc } from "../../runner/src/commands/gc.js";
import { createLogger } from "../../runner/src/output/logger.js";
import { FileStore } from "../../runner/src/store/file-store.js";
import { snapshotTree, type TreeSnapshot } from "../helpers/media-trees.js";
import { runRunner, type RunnerResult } from "../helpers/runner-cli.js";

const FIXTURE = path.resolve(__dirname, "../fixtures/whole-file-store-sets");
const STORE_KEY = "fixture-store-key-0123456789abcdef0123";
const log = createLogger({ format: "json", level: "warn", destination: new Writable({ write: (_c, _e, cb) => cb() }) });

let work: string;
let expected: TreeSnapshot;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), "edms-whole-file-sets-"));
  expected = JSON.parse(await readFile(path.join(FIXTURE, "expected-tree.json"), "utf8")) as TreeSnapshot;
});
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

function ok(step: string, r: RunnerResult): RunnerResult {
  if (r.code !== 0) throw new Error(`${step} exited ${r.code}:\n${r.stderr}\n${r.stdout.slice(-3000)}`);
  return r;
}

async function objectsIn(dest: string): Promise<string[]> {
  const entries = await readdir(path.join(dest, "store", "objects"), { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => path.relative(dest, path.join(e.parentPath, e.name)));
}

for (const variant of ["plain", "age"] as const) {
  describe(`a whole-file store set (${variant})`, () => {
    let dest: string;
    let env: Record<string, string>;

    beforeAll(async () => {
      dest = path.join(work, variant);
      await cp(path.join(FIXTURE, variant), dest, { recursive: true });
      env = {
        BACKUP_DESTINATION: `file://${dest}`,
        BACKUP_DATABASE: "false",
        MEDIA_FORMAT: "store",
        MEDIA_STORE_KEY: STORE_KEY,
        // gc ran here (its lease would make the backup wait a minute or two).
        EDMS_GC_LEASE_MS: "1",
        ...(variant === "age" ? { AGE_IDENTITY_FILE: path.join(FIXTURE, "age.key") } : {}),
      };
    });

    it("verifies (--full), lists its files and restores byte for byte", async () => {
      ok("verify", await runRunner(["verify", "latest", "--tier", "daily", "--full"], env));
      const files = ok("files", await runRunner(["files", "latest", "--tier", "daily", "--json"], env));
      expect(files.stdout).toContain("docs/hard.txt");
      const target = path.join(work, `${variant}-restored`);
      ok(
        "restore",
        await runRunner(["restore", "latest", "--tier", "daily", "--media-only", "--media-dir", target, "--yes"], env),
      );
      expect(await snapshotTree(target)).toEqual(expected);
    });

    it("is marked by gc: its objects survive, an object no set names is freed", async () => {
      const stray = `store/objects/ff/${"f".repeat(64)}`;
      await mkdir(path.join(dest, "store/objects/ff"), { recursive: true });
      await writeFile(path.join(dest, stray), "stray");
      const before = await objectsIn(dest);
      const store = new FileStore(dest);
      const first = await runGc(store, { graceHours: 0, dryRun: false, log });
      expect(first.sets.marked).toBe(1);
      expect(first.candidates.map((c) => c.key)).toEqual([stray]);
      await runGc(store, { graceHours: 0, dryRun: false, log });
      expect((await objectsIn(dest)).sort()).toEqual(before.filter((k) => k !== stray).sort());
      ok("verify after gc", await runRunner(["verify", "latest", "--tier", "daily"], env));
    });

    it("serves as the next backup's stat cache, and its objects are reused", async () => {
      const media = path.join(work, `${variant}-media`);
      ok(
        "restore",
        await runRunner(["restore", "latest", "--tier", "daily", "--media-only", "--media-dir", media, "--yes"], env),
      );
      const [id] = await readdir(path.join(dest, "daily"));
      const recipients =
        variant === "age"
          ? {
              ENCRYPTION_RECIPIENTS: (await readFile(path.join(FIXTURE, "age.key"), "utf8")).match(/age1[0-9a-z]+/)![0],
            }
          : {};
      const backup = ok(
        "backup",
        await runRunner(["backup", "--tier", "daily", "--no-database"], { ...env, ...recipients, MEDIA_DIR: media }),
      );
      const cache = backup.logs.find((l) => l.stage === "stat-cache");
      expect(cache?.previous).toBe(`daily/${id}`);
      const done = backup.logs.find((l) => l.stage === "done");
      const manifest = JSON.parse(
        await readFile(path.join(dest, "daily", String(done!.backupId), "manifest.json"), "utf8"),
      ) as { media: { store: { uploadedObjects: number; reusedObjects: number } } };
      expect(manifest.media.store.uploadedObjects).toBe(0);
      expect(manifest.media.store.reusedObjects).toBe(5);
      ok("verify both", await runRunner(["verify", "latest", "--tier", "daily", "--full"], env));
    });
  });
}
