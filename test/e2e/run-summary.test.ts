// The run summary (RUN_SUMMARY_TOPIC_ARN): the bundled runner publishes one message per backup and
// drill, success or failure, to a real SNS API (moto's), read back from moto's record of the topic.
// Against real PostgreSQL and tar: the message names the tier, the id, the sizes the manifest
// holds, the duration and the warnings (missing media files), never a password; a summary that
// cannot be published is a warning and the run's exit code stands.
import { mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { formatBytes } from "../../runner/src/output/format.js";
import { parseManifest, serializeManifest, type Manifest } from "../../runner/src/catalog/manifest.js";
import { fileDatabases } from "../helpers/file-databases.js";
import { awsTestEnv } from "../helpers/moto.js";
import { closedPortUrl } from "../helpers/notify-receiver.js";
import { sql, type TestDatabase } from "../helpers/pg-test-db.js";
import { runRunner, type RunnerResult } from "../helpers/runner-cli.js";
import { createTestTopic, type Published, type TestTopic } from "../helpers/sns-topic.js";

const pg = inject("pg");
const s3Endpoint = inject("s3Endpoint");
const { create: newDatabase } = fileDatabases(pg);
const WRONG_PASSWORD = "Wr0ng-pass-4f9c1e";

let db: TestDatabase;
let media: string;

beforeAll(async () => {
  db = await newDatabase("summary");
  await sql(
    db.url,
    `create table documents_document (id serial primary key, file varchar(100));
     insert into documents_document (file) values ('docs/a.pdf'), ('docs/gone.pdf'), ('docs/b.pdf');`,
  );
  media = await mkdtemp(path.join(tmpdir(), "edms-summary-media-"));
  await mkdir(path.join(media, "docs"));
  await writeFile(path.join(media, "docs", "a.pdf"), "a".repeat(5000));
  await writeFile(path.join(media, "docs", "b.pdf"), "b".repeat(7000));
});

/** Everything a subscriber receives, for the "no secret in it" checks. */
const everything = (p: Published) => JSON.stringify(p);

function expectNoSecret(p: Published): void {
  const all = everything(p);
  expect(all).not.toContain(pg.password);
  expect(all).not.toContain(encodeURIComponent(pg.password));
  expect(all).not.toContain(WRONG_PASSWORD);
  expect(all).not.toMatch(/postgres(ql)?:\/\/[^\s]*:[^*\s][^@\s]*@/);
}

async function backup(topic: TestTopic, dest: string, extra: Record<string, string> = {}): Promise<RunnerResult> {
  return runRunner(["backup", "--tier", "daily"], {
    ...topic.env(),
    APP_NAME: "edms",
    BACKUP_DESTINATION: `file://${dest}`,
    DATABASE_URL: db.url,
    PG_BIN_DIR: pg.binDir,
    MEDIA_DIR: media,
    MEDIA_REFERENCES: "documents_document.file",
    ...extra,
  });
}

async function manifestOf(dest: string, result: RunnerResult): Promise<Manifest> {
  const id = result.logs.find((l) => l.stage === "done")!.backupId as string;
  return parseManifest(await readFile(path.join(dest, "daily", id, "manifest.json"), "utf8"), "test");
}

describe("the run summary on SNS", () => {
  let dest: string;
  let manifest: Manifest;

  it("a successful backup: one message with tier, id, sizes, duration and the missing media file, no secret", async () => {
    const topic = await createTestTopic(s3Endpoint);
    dest = await mkdtemp(path.join(tmpdir(), "edms-summary-dest-"));
    const result = await backup(topic, dest);
    expect(result.code, result.stderr).toBe(0);
    manifest = await manifestOf(dest, result);
    expect(manifest.media?.references?.missing).toBe(1);

    const published = await topic.published();
    expect(published).toHaveLength(1);
    const [summary] = published;
    const what = `edms daily backup ${manifest.backupId}`;
    expect(summary.subject).toBe(`[warning] ${what} succeeded with 1 warning`);
    expect(summary.attributes).toEqual({
      event: { Type: "String", Value: "backup" },
      status: { Type: "String", Value: "success" },
      tier: { Type: "String", Value: "daily" },
    });
    const lines = summary.message.split("\n");
    expect(lines[0]).toBe(`${what} succeeded with 1 warning.`);
    const field = (label: string) =>
      lines
        .find((l) => l.startsWith(`${label}:`))
        ?.slice(label.length + 1)
        .trim();
    expect(field("Tier")).toBe("daily");
    expect(field("Backup")).toBe(manifest.backupId);
    expect(field("Status")).toBe("success");
    expect(field("Started")).toBe(manifest.startedAt);
    expect(field("Finished")).toBe(manifest.finishedAt);
    expect(field("Duration")).toMatch(/^\d+s$/);
    expect(field("Database")).toBe(`${formatBytes(manifest.database!.bytes)} (1 table)`);
    expect(field("Media")).toBe(`${formatBytes(manifest.media!.bytes)} (2 files)`);
    expect(field("Stored")).toBe(formatBytes(manifest.database!.bytes + manifest.media!.bytes));
    expect(field("Missing media")).toBe("1");
    expect(field("Destination")).toBe(`file://${dest}`);
    expect(field("Error")).toBeUndefined();
    expect(summary.message).toContain(
      "\nWarnings:\n- 1 of 3 media files referenced by public.documents_document.file are not in the media folder",
    );
    expectNoSecret(summary);
    expect(result.logs).toContainEqual(expect.objectContaining({ target: "sns", msg: "run summary published" }));
  });

  it("a failed backup: one FAILED message with the redacted error, exit 1 as before", async () => {
    const topic = await createTestTopic(s3Endpoint);
    const failing = await mkdtemp(path.join(tmpdir(), "edms-summary-fail-"));
    const url = new URL(db.url);
    url.password = WRONG_PASSWORD;
    const result = await backup(topic, failing, { DATABASE_URL: url.toString() });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/password authentication failed/);

    const published = await topic.published();
    expect(published).toHaveLength(1);
    const [summary] = published;
    expect(summary.subject).toMatch(/^\[FAILED\] edms daily backup \d{8}T\d{6}Z-[0-9a-f]{4} FAILED$/);
    expect(summary.attributes.status).toEqual({ Type: "String", Value: "failure" });
    expect(summary.message).toMatch(/^Status: +failure$/m);
    expect(summary.message).toMatch(/^Error: +.*password authentication failed/m);
    expect(summary.message).toMatch(/^Duration: +\d+s$/m);
    expect(summary.message).not.toMatch(/^Stored:/m);
    expect(summary.message).toContain("What to do: docs/RUNBOOK.md");
    expectNoSecret(summary);
  });

  it("a passed drill and a failed one: one message each, with the restore time and the checks", async () => {
    const topic = await createTestTopic(s3Endpoint);
    const passed = await runRunner(["drill", "--tier", "daily"], {
      ...topic.env(),
      BACKUP_DESTINATION: `file://${dest}`,
      DATABASE_URL: db.url,
      PG_BIN_DIR: pg.binDir,
    });
    expect(passed.code, passed.stderr).toBe(0);
    // The same set with a manifest claiming a table the dump does not have: the drill fails.
    const broken = await mkdtemp(path.join(tmpdir(), "edms-summary-broken-"));
    const set = path.join(broken, "daily", manifest.backupId);
    await mkdir(set, { recursive: true });
    for (const part of [manifest.database!.key, manifest.media!.key])
      await writeFile(path.join(set, part), await readFile(path.join(dest, "daily", manifest.backupId, part)));
    const tables = manifest.database!.tables!.map((t) => ({ ...t, rows: 99 }));
    const lying: Manifest = { ...manifest, database: { ...manifest.database!, tables, rowCount: 99 } };
    await writeFile(path.join(set, "manifest.json"), serializeManifest(lying));
    const failed = await runRunner(["drill", "--tier", "daily"], {
      ...topic.env(),
      BACKUP_DESTINATION: `file://${broken}`,
      DATABASE_URL: db.url,
      PG_BIN_DIR: pg.binDir,
    });
    expect(failed.code).toBe(1);

    const [ok, bad, ...rest] = await topic.published();
    expect(rest).toEqual([]);
    const what = `edms restore drill of daily/${manifest.backupId}`;
    expect(ok.subject).toBe(`[ok] ${what} passed`);
    expect(ok.attributes.event).toEqual({ Type: "String", Value: "drill" });
    expect(ok.message).toMatch(/^Restore time: +\d+\.\d s$/m);
    expect(ok.message).toMatch(/\nChecks:\n(- ok .*\n?)+/);
    expect(ok.message).not.toMatch(/FAILED/);
    expect(bad.subject).toBe(`[FAILED] ${what} FAILED`);
    expect(bad.attributes.status).toEqual({ Type: "String", Value: "failure" });
    expect(bad.message).toMatch(/^- FAILED .*documents_document.*99/m);
    for (const p of [ok, bad]) expectNoSecret(p);
  });

  it("a summary that cannot be published is a warning; the backup still succeeds", async () => {
    const topic = await createTestTopic(s3Endpoint);
    const cases = [
      // A topic that does not exist (deleted, or another account's): SNS answers NotFound.
      { ...topic.env(), RUN_SUMMARY_TOPIC_ARN: `${topic.arn}-gone` },
      // SNS unreachable.
      { ...topic.env(), AWS_ENDPOINT_URL_SNS: await closedPortUrl() },
    ];
    for (const env of cases) {
      const out = await mkdtemp(path.join(tmpdir(), "edms-summary-nopub-"));
      const result = await runRunner(["backup", "--tier", "daily", "--no-database"], {
        ...env,
        BACKUP_DESTINATION: `file://${out}`,
        MEDIA_DIR: media,
      });
      expect(result.code, result.stderr).toBe(0);
      const warning = result.logs.find((l) => l.target === "sns");
      expect(warning).toMatchObject({
        level: "warn",
        msg: "could not publish the run summary; the run's own result is unaffected",
      });
      expect(String(warning!.problem)).not.toBe("");
    }
  });

  it("a topic ARN that is not one is a configuration error naming it (exit 2)", async () => {
    const result = await runRunner(["backup", "--tier", "daily", "--no-database"], {
      ...awsTestEnv(),
      RUN_SUMMARY_TOPIC_ARN: "edms-runs",
      BACKUP_DESTINATION: `file://${await mkdtemp(path.join(tmpdir(), "edms-summary-badarn-"))}`,
      MEDIA_DIR: media,
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("RUN_SUMMARY_TOPIC_ARN");
    expect(result.stderr).toContain("must be an SNS topic ARN");
  });
});
