// The by-hand restore of a store-format set in docs/RUNBOOK.md, run as written: aws cli against
// moto, age and the runbook's own python3 script (extracted from the document, so the two cannot
// drift apart), on generated wild trees, encrypted and not, and (zstd) on the sets written before
// segments in test/fixtures/whole-file-store-sets. The runner is not involved.
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { newAgeKey, type AgeKeyPair } from "../helpers/age-key.js";
import { run } from "../helpers/exec.js";
import { materializeTree, mediaTreeArb, snapshotTree } from "../helpers/media-trees.js";
import { awsTestEnv } from "../helpers/moto.js";
import { runRunner } from "../helpers/runner-cli.js";
import { createTestBucket, type TestBucket } from "../helpers/s3-bucket.js";

const s3Endpoint = inject("s3Endpoint");
let work: string;
let age: AgeKeyPair;
let bucket: TestBucket;
let script: string;

/** The python3 block that follows the runbook's mention of restore-store.py. */
async function runbookScript(): Promise<string> {
  const runbook = await readFile(path.join(__dirname, "../../docs/RUNBOOK.md"), "utf8");
  const at = runbook.indexOf("`restore-store.py` (the test");
  const block = /```python\n([\s\S]*?)```/.exec(runbook.slice(at));
  if (at < 0 || !block) throw new Error("docs/RUNBOOK.md has no restore-store.py block");
  return block[1]!;
}

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), "edms-by-hand-"));
  age = await newAgeKey(work);
  bucket = await createTestBucket(s3Endpoint);
  script = path.join(work, "restore-store.py");
  await writeFile(script, await runbookScript());
});
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

async function sh(script: string, cwd: string): Promise<void> {
  const r = await run("bash", ["-euo", "pipefail", "-c", script], {
    cwd,
    env: { ...process.env, ...awsTestEnv(), AWS_DEFAULT_REGION: "us-east-1" },
  });
  if (r.code !== 0) throw new Error(`${script}\nexited ${r.code}: ${r.stderr}`);
}

const FIXTURE = path.resolve(__dirname, "../fixtures/whole-file-store-sets");

describe("a store-format set restored by hand (aws cli, age, zstd, the runbook's python3)", () => {
  it("gives back generated wild trees byte for byte, encrypted and not", async () => {
    const trees = fc.sample(mediaTreeArb, { numRuns: 3, seed: 22 });
    let i = 0;
    for (const tree of trees)
      for (const encrypted of [false, true]) {
        i += 1;
        const dir = path.join(work, `case-${i}`);
        const media = path.join(dir, "media");
        await mkdir(media, { recursive: true });
        await materializeTree(media, tree);
        const prefix = `hand-${i}`;
        const env = {
          ...bucket.env(prefix),
          BACKUP_DATABASE: "false",
          MEDIA_DIR: media,
          MEDIA_FORMAT: "store",
          MEDIA_STORE_KEY: "by-hand-test-key-0123456789abcdef0123",
          ...(encrypted ? { ENCRYPTION_RECIPIENTS: age.recipient } : {}),
        };
        const backup = await runRunner(["backup", "--tier", "daily"], env);
        expect(backup.code, backup.stderr).toBe(0);
        const list = (await bucket.keys()).find(
          (k) => k.startsWith(`${prefix}/daily/`) && k.endsWith("/media-segments.txt"),
        )!;
        const set = path.dirname(list).slice(prefix.length + 1);
        const e = `--endpoint-url ${s3Endpoint}`;
        const s3 = `s3://${bucket.name}/${prefix}`;
        await sh(`aws ${e} s3 cp --quiet "${s3}/${set}/media-segments.txt" segments.txt`, dir);
        await sh(`aws ${e} s3 sync --quiet "${s3}/store/objects/" objects/`, dir);
        await sh(`python3 ${script} segments.txt objects/ restored ${encrypted ? age.file : ""}`, dir);
        expect(await snapshotTree(path.join(dir, "restored")), `case ${i}`).toEqual(await snapshotTree(media));
      }
  }, 300_000);

  it("the script refuses a damaged object", async () => {
    const dir = path.join(work, "damaged");
    const media = path.join(dir, "media");
    await mkdir(media, { recursive: true });
    await writeFile(path.join(media, "a.pdf"), "some document");
    const dest = path.join(dir, "dest");
    const env = {
      BACKUP_DESTINATION: `file://${dest}`,
      BACKUP_DATABASE: "false",
      MEDIA_DIR: media,
      MEDIA_FORMAT: "store",
      MEDIA_STORE_KEY: "by-hand-test-key-0123456789abcdef0123",
    };
    expect((await runRunner(["backup", "--tier", "daily"], env)).code).toBe(0);
    // The content object only: the index chunks the segment list names stay whole.
    await sh(
      `cp daily/*/media-segments.txt ../segments.txt && for f in store/objects/*/*; do grep -q "$(basename "$f")" ../segments.txt || printf X >> "$f"; done`,
      dest,
    );
    const r = await run("python3", [script, "segments.txt", "dest/store/objects", "restored"], { cwd: dir });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/a\.pdf' does not match the index/);
    // A damaged index chunk is refused before any entry of it is written.
    await sh(`for f in store/objects/*/*; do printf X >> "$f"; done`, dest);
    const chunk = await run("python3", [script, "segments.txt", "dest/store/objects", "restored-2"], { cwd: dir });
    expect(chunk.code).not.toBe(0);
    expect(chunk.stderr).toMatch(/index chunk store\/objects\/\S+ does not match the segment list \(damaged\)/);
  });

  it("restores the sets written before segments from their whole index (zstd -d)", async () => {
    const expected = JSON.parse(await readFile(path.join(FIXTURE, "expected-tree.json"), "utf8")) as unknown;
    for (const variant of ["plain", "age"]) {
      const dir = path.join(work, `whole-${variant}`);
      await cp(path.join(FIXTURE, variant), dir, { recursive: true });
      const identity = variant === "age" ? path.join(FIXTURE, "age.key") : "";
      await sh(
        variant === "age"
          ? `age --decrypt --identity ${identity} < daily/*/media-index.jsonl.zst.age | zstd -d > index.jsonl`
          : `zstd -d < daily/*/media-index.jsonl.zst > index.jsonl`,
        dir,
      );
      await sh(`python3 ${script} index.jsonl store/objects restored ${identity}`, dir);
      expect(await snapshotTree(path.join(dir, "restored")), variant).toEqual(expected);
    }
  });
});
