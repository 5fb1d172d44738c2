// The drill of a large store-format set (DRILL_MEDIA_SAMPLE_ABOVE): every referenced object is
// checked for existence and size from one listing, a random sample of files is restored and
// checked, and the report, the drill record, the webhook and the mail say which it did. Below the
// threshold (or unset) the drill restores every file as before. A missing object the sample does
// not touch still fails the drill; a damaged object the sample restores fails it too. On file://
// (where objects can be damaged) and on moto with age, with the media reference check.
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, readdir, rm, truncate, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { Reservoir } from "../../runner/src/drill/media-sample.js";
import type { DrillMedia, DrillReport } from "../../runner/src/drill/drill-record.js";
import { drillSummary } from "../../runner/src/notify/run-summary.js";
import { drillPayload, type DrillWebhookPayload } from "../../runner/src/notify/drill-reporter.js";
import { runnerEnvSchema } from "../../runner/src/contract.js";
import { newAgeKey, type AgeKeyPair } from "../helpers/age-key.js";
import { fileDatabases } from "../helpers/file-databases.js";
import { startReceiver, type Receiver } from "../helpers/notify-receiver.js";
import { sql } from "../helpers/pg-test-db.js";
import { runRunner, type RunnerResult } from "../helpers/runner-cli.js";
import { contentObjectFiles } from "../helpers/segment-lists.js";
import { createTestBucket } from "../helpers/s3-bucket.js";
import { fileStoreEnv } from "../helpers/store-env.js";

const pg = inject("pg");
const s3Endpoint = inject("s3Endpoint");
const { create: newDatabase } = fileDatabases(pg);
const KEY = "drill-sample-test-key-0123456789abcdef";

let work: string;
let age: AgeKeyPair;
let receiver: Receiver;
let n = 0;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), "edms-drill-sample-"));
  age = await newAgeKey(work);
  receiver = await startReceiver();
});
afterAll(async () => {
  await receiver?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

function ok(step: string, r: RunnerResult): RunnerResult {
  if (r.code !== 0) throw new Error(`${step} exited ${r.code}:\n${r.stderr}\n${r.stdout.slice(-3000)}`);
  return r;
}

/** 40 files of 1000 random bytes in 4 folders, plus `same` files that share one content. */
async function makeMedia(same = 0): Promise<string> {
  n += 1;
  const media = path.join(work, `media-${n}`);
  for (let d = 0; d < 4; d += 1) {
    await mkdir(path.join(media, `dir-${d}`), { recursive: true });
    for (let i = 0; i < 10; i += 1) await writeFile(path.join(media, `dir-${d}`, `f-${i}.bin`), randomBytes(1000));
  }
  if (same) {
    await mkdir(path.join(media, "same"));
    for (let i = 0; i < same; i += 1) await writeFile(path.join(media, "same", `s-${i}.txt`), "one content");
  }
  return media;
}

const fileEnv = (dest: string, media: string, extra: Record<string, string> = {}) =>
  fileStoreEnv(dest, media, KEY, extra);

async function drill(
  env: Record<string, string>,
  tag: string,
): Promise<{ r: RunnerResult; report: DrillReport; hook: DrillWebhookPayload }> {
  const r = await runRunner(["drill", "--json"], { ...env, NOTIFY_WEBHOOK_URL: `${receiver.url}/${tag}` });
  const report = JSON.parse(r.stdout || "{}") as DrillReport;
  const post = receiver.requests.find((q) => q.path === `/${tag}` && q.method === "POST");
  return { r, report, hook: JSON.parse(post?.body ?? "{}") as DrillWebhookPayload };
}

async function records(dest: string): Promise<Array<{ ok: boolean; media?: DrillMedia }>> {
  const dir = path.join(dest, "drills");
  const names = (await readdir(dir)).filter((f) => f.endsWith(".json")).sort();
  return Promise.all(
    names.map(
      async (f) => JSON.parse(await readFile(path.join(dir, f), "utf8")) as { ok: boolean; media?: DrillMedia },
    ),
  );
}

/** The files' content objects (not the sets' metadata chunks, which the drill reports apart). */
const objectFiles = contentObjectFiles;

describe("DRILL_MEDIA_SAMPLE_ABOVE: the drill of a large store-format set samples, and says so", () => {
  it("above the threshold: every object checked, a random sample restored; report, record and webhook say 'sample'; below or unset: full as before", async () => {
    const media = await makeMedia();
    const dest = path.join(work, `dest-${n}`);
    const env = fileEnv(dest, media);
    ok("backup", await runRunner(["backup", "--tier", "daily"], env));

    const sampled = await drill({ ...env, DRILL_MEDIA_SAMPLE_ABOVE: "10KiB", DRILL_MEDIA_SAMPLE_FILES: "5" }, `s-${n}`);
    expect(sampled.r.code, sampled.r.stderr).toBe(0);
    expect(sampled.report.media).toEqual({ mode: "sample", files: 40, restoredFiles: 5, objectsChecked: 40 });
    const check = sampled.report.checks.find((c) => c.name === "media")!;
    expect(check.ok).toBe(true);
    expect(check.detail).toMatch(
      /^sample drill \(media 39\.1 KiB > DRILL_MEDIA_SAMPLE_ABOVE 10\.0 KiB\): 5 of 40 files chosen at random restored and checked \(size, sha256\), 5 files \/ 5000 bytes on disk; every one of 40 referenced objects present with its size/,
    );
    expect(sampled.hook.media).toEqual(sampled.report.media);
    expect((await records(dest)).at(-1)).toMatchObject({
      ok: true,
      media: { mode: "sample", restoredFiles: 5, files: 40 },
    });

    const variants: Array<Record<string, string>> = [
      {},
      { DRILL_MEDIA_SAMPLE_ABOVE: "1MiB", DRILL_MEDIA_SAMPLE_FILES: "5" },
      { DRILL_MEDIA_SAMPLE_ABOVE: "1", DRILL_MEDIA_SAMPLE_FILES: "40" },
    ];
    for (const extra of variants) {
      const full = await drill(
        { ...env, ...extra },
        `f-${n}-${Object.keys(extra).length}-${extra.DRILL_MEDIA_SAMPLE_FILES ?? ""}`,
      );
      expect(full.r.code, full.r.stderr).toBe(0);
      expect(full.report.media).toEqual({ mode: "full", files: 40, restoredFiles: 40 });
      expect(full.report.checks.find((c) => c.name === "media")!.detail).toBe(
        "40 files / 40000 bytes on disk; manifest 40 / 40000",
      );
      expect(full.hook.media).toEqual({ mode: "full", files: 40, restoredFiles: 40 });
    }
    expect((await records(dest)).at(-1)).toMatchObject({ ok: true, media: { mode: "full", restoredFiles: 40 } });
  });

  it("a missing or resized object fails the sample drill whether or not the sample touches it; a damaged one the sample restores fails it too", async () => {
    const media = await makeMedia();
    const dest = path.join(work, `dest-${n}`);
    const env = { ...fileEnv(dest, media), DRILL_MEDIA_SAMPLE_ABOVE: "1KiB", DRILL_MEDIA_SAMPLE_FILES: "1" };
    ok("backup", await runRunner(["backup", "--tier", "daily"], env));
    const objects = await objectFiles(dest);
    await unlink(objects[7]!);
    await truncate(objects[8]!, 10);
    const broken = await drill(env, `m-${n}`);
    expect(broken.r.code).toBe(1);
    expect(broken.report.media?.mode).toBe("sample");
    const detail = broken.report.checks.find((c) => c.name === "media")!.detail;
    expect(detail).toMatch(/missing from the store/);
    expect(detail).toMatch(/10 bytes stored, the index says 1000/);
    expect((await records(dest)).at(-1)).toMatchObject({ ok: false, media: { mode: "sample", restoredFiles: 0 } });

    // One content shared by 30 files: whichever 3 files the sample takes, it reads this object.
    const same = await makeMedia(30);
    const dest2 = path.join(work, `dest-${n}`);
    const env2 = { ...fileEnv(dest2, same), DRILL_MEDIA_SAMPLE_ABOVE: "1KiB", DRILL_MEDIA_SAMPLE_FILES: "3" };
    ok("backup", await runRunner(["backup", "--tier", "daily"], env2));
    const shared = (await Promise.all((await objectFiles(dest2)).map(async (f) => ({ f, b: await readFile(f) })))).find(
      (o) => o.b.toString() === "one content",
    )!;
    shared.b[0] = shared.b[0]! ^ 0x20;
    await writeFile(shared.f, shared.b);
    // The sample is 3 of 70 files; only those from same/ read the damaged object: drill until one does.
    let caught: Awaited<ReturnType<typeof drill>> | undefined;
    for (let i = 0; i < 12 && !caught; i += 1) {
      const d = await drill(env2, `d-${n}-${i}`);
      if (d.r.code !== 0) caught = d;
      else expect(d.report.media).toMatchObject({ mode: "sample", restoredFiles: 3 });
    }
    expect(
      caught,
      "no sample drill read the damaged object in 12 drills (3 of 70 files each, 30 of them on it)",
    ).toBeDefined();
    expect(caught!.report.checks.find((c) => c.name === "media")!.detail).toMatch(/does not match the index/);
  }, 120_000);

  it("on S3 with age, with the media reference check: the sample drill checks references against the set's index", async () => {
    const bucket = await createTestBucket(s3Endpoint);
    const media = await makeMedia();
    const db = await newDatabase("drill_sample");
    await sql(
      db.url,
      `create table documents_document (id serial primary key, file varchar(100));
       insert into documents_document (file) values ('dir-0/f-1.bin'), ('dir-3/f-9.bin'), ('dir-2/gone.pdf');`,
    );
    const env = {
      ...bucket.env("sample"),
      DATABASE_URL: db.url,
      PG_BIN_DIR: pg.binDir,
      MEDIA_DIR: media,
      MEDIA_FORMAT: "store",
      MEDIA_STORE_KEY: KEY,
      MEDIA_REFERENCES: "documents_document.file",
      ENCRYPTION_RECIPIENTS: age.recipient,
      AGE_IDENTITY_FILE: age.file,
    };
    ok("backup", await runRunner(["backup", "--tier", "weekly"], env));
    const d = await drill({ ...env, DRILL_MEDIA_SAMPLE_ABOVE: "20000", DRILL_MEDIA_SAMPLE_FILES: "4" }, `ref-${n}`);
    expect(d.r.code, d.r.stderr + d.r.stdout).toBe(0);
    expect(d.report.media).toEqual({ mode: "sample", files: 40, restoredFiles: 4, objectsChecked: 40 });
    expect(d.report.checks).toContainEqual({
      name: "references",
      ok: true,
      detail:
        "against the set's index (a sample drill): 3 referenced, 1 missing (1 recorded at backup), 38 unreferenced",
    });
    expect(d.report.checks.find((c) => c.name === "database")?.ok).toBe(true);
  });
});

describe("the sample and the words around it", () => {
  it("Reservoir keeps each offered item with the same probability", () => {
    const counts = new Array<number>(10).fill(0);
    const trials = 30_000;
    for (let t = 0; t < trials; t += 1) {
      const r = new Reservoir<number>(3);
      for (let i = 0; i < 10; i += 1) r.offer(i);
      expect(r.items).toHaveLength(3);
      expect(new Set(r.items).size).toBe(3);
      for (const i of r.items) counts[i]! += 1;
    }
    // Each is kept 3/10 of the time: 9000 expected, a standard deviation of ~79.
    for (const c of counts) expect(Math.abs(c - 9000)).toBeLessThan(450);
  });

  it("the mail names the media check; bad thresholds are refused with the variable's name", () => {
    const report: DrillReport = {
      backupId: "20261207T000000Z-ab12",
      tier: "weekly",
      ok: true,
      restoreSeconds: 3.2,
      checks: [],
      media: { mode: "sample", files: 50_000, restoredFiles: 1000, objectsChecked: 48_000 },
    };
    const mail = drillSummary(drillPayload("edms", { report }), { durationSeconds: 4, warnings: [] } as never).message;
    expect(mail).toMatch(
      /Media check: +sample: 1000 of 50000 files restored at random; every one of 48000 referenced objects present with its size/,
    );
    const full = drillSummary(
      drillPayload("edms", { report: { ...report, media: { mode: "full", files: 12, restoredFiles: 12 } } }),
      {
        durationSeconds: 4,
        warnings: [],
      } as never,
    ).message;
    expect(full).toMatch(/Media check: +full: all 12 files restored/);

    const parse = (v: string) => runnerEnvSchema.shape.DRILL_MEDIA_SAMPLE_ABOVE.safeParse(v);
    expect(parse("50GiB").data).toBe(50 * 2 ** 30);
    expect(parse("2TiB").data).toBe(2 * 2 ** 40);
    expect(parse("1000").data).toBe(1000);
    for (const bad of ["50GB", "-1", "0", "1.5GiB", "lots", "99999999TiB"]) expect(parse(bad).success, bad).toBe(false);
    expect(runnerEnvSchema.shape.DRILL_MEDIA_SAMPLE_FILES.safeParse("100001").success).toBe(false);
  });
});
