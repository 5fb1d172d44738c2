// Database <-> media references end to end, with real PostgreSQL, tar and the bundled CLI: the
// manifest's counts and paths are exact (including a row and a file that appear after the dump's
// snapshot), the drill passes on a faithful set and fails when the restored folder lost a
// referenced file, bad column names are refused with exit 2 before anything is written, and the
// restore preamble names the Django apps whose migrations differ.
import { mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { Writable } from "node:stream";
import { tmpdir } from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { fileDatabases } from "../helpers/file-databases.js";
import { runBackup } from "../../runner/src/commands/backup.js";
import { loadBackupSettings } from "../../runner/src/settings/config.js";
import { createLogger } from "../../runner/src/output/logger.js";
import { serializeManifest, type Manifest } from "../../runner/src/catalog/manifest.js";
import { FileStore } from "../../runner/src/store/file-store.js";
import { sha256 } from "../helpers/craft-set.js";
import { run } from "../helpers/exec.js";
import { sql, type TestDatabase } from "../helpers/pg-test-db.js";
import { runRunner } from "../helpers/runner-cli.js";
import { randomBytes } from "node:crypto";
import { GetMetricStatisticsCommand } from "@aws-sdk/client-cloudwatch";
import { METRIC_REFERENCE_CHECK_NOT_RUN } from "../../runner/src/metric-names.js";
import type { WebhookPayload } from "../../runner/src/notify/webhook.js";
import { awsTestEnv } from "../helpers/moto.js";
import { startReceiver, testCloudWatch } from "../helpers/notify-receiver.js";
import { newAgeKey } from "../helpers/age-key.js";

const pg = inject("pg");
const s3Endpoint = inject("s3Endpoint");
const { create: newDatabase } = fileDatabases(pg);
const BAD = Buffer.from([0x64, 0x6f, 0x63, 0x73, 0x2f, 0x62, 0x61, 0x64, 0xff, 0x2e, 0x70, 0x64, 0x66]); // docs/bad\xff.pdf
const ODD_TABLE = "odd'; drop table documents_document;--";
const ODD_COLUMN = "pa,th";
const REFERENCES = `documents_document.file,public.documents_document.thumbnail,"we.ird ""s"""."${ODD_TABLE}"."${ODD_COLUMN}"`;

let db: TestDatabase;
let media: string;
let dest: string;
let manifest: Manifest;

async function file(rel: string | Buffer, content = "x") {
  const full = Buffer.concat([Buffer.from(`${media}/`), Buffer.from(rel)]);
  await mkdir(path.join(media, path.dirname(Buffer.from(rel).toString("latin1"))), { recursive: true });
  await writeFile(full, content);
}

beforeAll(async () => {
  db = await newDatabase("refs");
  media = await mkdtemp(path.join(tmpdir(), "edms-refs-media-"));
  dest = await mkdtemp(path.join(tmpdir(), "edms-refs-dest-"));
  await sql(
    db.url,
    `create table documents_document (id serial primary key, file varchar(100), thumbnail varchar(100), pages int);
     insert into documents_document (file, thumbnail) values
       ('docs/a.pdf', 'thumbs/a.png'),
       ('./docs/a.pdf', '/thumbs/a.png'),
       ('docs/new
line.pdf', ''),
       ('docs/caf\u00e9.pdf', null),
       ('docs/missing-2.pdf', 'thumbs/missing-1.png'),
       ('docs', 'docs/link.pdf'),
       ('docs/gone-after-snapshot.pdf', null);
     create schema "we.ird ""s""";
     create table "we.ird ""s"""."odd'; drop table documents_document;--" ("pa,th" text);
     insert into "we.ird ""s"""."odd'; drop table documents_document;--" values ('odd/é ü.txt'), ('odd/absent.txt'), (null);
     create table django_migrations (id serial primary key, app varchar(255), name varchar(255), applied timestamptz default now());
     insert into django_migrations (app, name) values ('documents', '0001_initial'), ('auth', '0001_initial'),
       ('documents', '0002_file'), ('auth', '0002_permissions');`,
  );
  await file("docs/a.pdf");
  await file("thumbs/a.png");
  await file("docs/new\nline.pdf");
  // NFD on disk, NFC in the row: different bytes, so the row's file is missing.
  await file("docs/cafe\u0301.pdf");
  await file("docs/gone-after-snapshot.pdf");
  await file("odd/é ü.txt");
  await file(BAD);
  await file("unreferenced.txt");
  await symlink("a.pdf", path.join(media, "docs/link.pdf"));

  const settings = loadBackupSettings({
    processEnv: {},
    overrides: {
      BACKUP_DESTINATION: `file://${dest}`,
      BACKUP_TIER: "daily",
      DATABASE_URL: db.url,
      MEDIA_DIR: media,
      // A tar set: the drill test below rebuilds its archive without one file.
      MEDIA_FORMAT: "tar",
      MEDIA_REFERENCES: REFERENCES,
      PG_BIN_DIR: pg.binDir,
      LOG_LEVEL: "error",
    },
    isTty: false,
  });
  const quiet = createLogger({
    format: "json",
    level: "error",
    destination: new Writable({ write: (_c, _e, cb) => cb() }),
  });
  manifest = await runBackup(settings, {
    store: new FileStore(dest),
    log: quiet,
    // After the snapshot is exported and before tar starts: a new row with its file (not in the
    // dump, so not referenced; its file is archived, so unreferenced) and a referenced file deleted.
    onSnapshot: async () => {
      await sql(db.url, "insert into documents_document (file) values ('docs/late.pdf')");
      await file("docs/late.pdf");
      await rm(path.join(media, "docs/gone-after-snapshot.pdf"));
    },
  });
});

describe("media references in the manifest", () => {
  it("counts and lists exactly what the snapshot's rows reference and the archive lacks", () => {
    expect(manifest.media?.references).toEqual({
      columns: [
        "public.documents_document.file",
        "public.documents_document.thumbnail",
        `"we.ird ""s"""."${ODD_TABLE}"."${ODD_COLUMN}"`,
      ],
      // a.pdf, new\nline.pdf, café (NFC), missing-2, docs, gone-after-snapshot; thumbs a.png,
      // missing-1, docs/link.pdf; odd/é ü.txt, odd/absent.txt
      referenced: 11,
      missing: 7,
      missingPaths: [
        "docs",
        "docs/caf\u00e9.pdf",
        "docs/gone-after-snapshot.pdf",
        "docs/link.pdf",
        "docs/missing-2.pdf",
        "odd/absent.txt",
        "thumbs/missing-1.png",
      ],
      // cafe\u0301 (NFD), bad\xff, unreferenced.txt, late.pdf
      unreferenced: 4,
    });
    expect(manifest.media?.files).toBe(8);
    expect(manifest.database?.migrations).toEqual({ auth: "0002_permissions", documents: "0002_file" });
  });

  it("list, status and verify show the missing references", async () => {
    const env = { BACKUP_DESTINATION: `file://${dest}` };
    const list = await runRunner(["list", "--json"], env);
    expect(list.code, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout)[0]).toMatchObject({ missingMediaFiles: 7 });
    const table = await runRunner(["list"], env);
    expect(table.stdout).toContain("(7 referenced MISSING)");
    const status = await runRunner(["status", "--json"], { ...env, STATUS_TIERS: "daily" });
    expect(JSON.parse(status.stdout).tiers[0]).toMatchObject({ tier: "daily", missingMediaFiles: 7 });
    const verify = await runRunner(["verify", "latest"], env);
    expect(verify.code, verify.stderr).toBe(0);
    expect(verify.stdout).toMatch(
      /WARNING: 7 of 11 media files referenced by .* were missing when the backup was taken: docs, docs\/café.pdf/,
    );
  });

  it("the drill passes on the faithful set and reports the counts", async () => {
    const drill = await runRunner(["drill", "--json"], {
      BACKUP_DESTINATION: `file://${dest}`,
      DATABASE_URL: db.url,
      PG_BIN_DIR: pg.binDir,
    });
    expect(drill.code, drill.stderr + drill.stdout).toBe(0);
    const report = JSON.parse(drill.stdout) as { checks: unknown[] };
    expect(report.checks).toContainEqual({
      name: "references",
      ok: true,
      // The restored folder holds the same files, so the same 7 are missing and 4 unreferenced.
      detail: "11 referenced, 7 missing (7 recorded at backup), 4 unreferenced",
    });
  });

  it("the drill fails when the restored folder lost a referenced file", async () => {
    // The same set, but its archive lost docs/a.pdf (manifest checksums and tallies updated, so
    // only the reference check can notice).
    const setDir = path.join(dest, "daily", manifest.backupId);
    const work = await mkdtemp(path.join(tmpdir(), "edms-refs-tamper-"));
    const tree = path.join(work, "tree");
    await mkdir(tree);
    expect((await run("tar", ["-x", "--zstd", "-f", path.join(setDir, "storage.tar.zst"), "-C", tree])).code).toBe(0);
    await rm(path.join(tree, "docs/a.pdf"));
    const archive = path.join(work, "storage.tar.zst");
    expect((await run("tar", ["-c", "--zstd", "-f", archive, "-C", tree, "."])).code).toBe(0);
    const bytes = await readFile(archive);
    const id = "20250101T000000Z-bad0";
    const bad = path.join(dest, "weekly", id);
    await mkdir(bad, { recursive: true });
    const dumpKey = manifest.database!.key;
    await writeFile(path.join(bad, dumpKey), await readFile(path.join(setDir, dumpKey)));
    await writeFile(path.join(bad, "storage.tar.zst"), bytes);
    const tampered: Manifest = {
      ...manifest,
      backupId: id,
      tier: "weekly",
      media: { ...manifest.media!, bytes: bytes.length, sha256: sha256(bytes), files: 7, sourceBytes: 7 },
    };
    await writeFile(path.join(bad, "manifest.json"), serializeManifest(tampered));
    const drill = await runRunner(["drill", "--tier", "weekly", "--json"], {
      BACKUP_DESTINATION: `file://${dest}`,
      DATABASE_URL: db.url,
      PG_BIN_DIR: pg.binDir,
    });
    expect(drill.code).toBe(1);
    expect(drill.stdout + drill.stderr).toContain(
      "1 referenced media file(s) missing that the backup did not record as missing: docs/a.pdf",
    );
  });
});

describe("bad reference columns", () => {
  it("never cost the backup: the set is complete, the manifest, log, webhook and metric say the check did not run", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "edms-refs-bad-"));
    const receiver = await startReceiver();
    const ns = `EdmsTest/${randomBytes(4).toString("hex")}`;
    const env = {
      ...awsTestEnv(),
      AWS_ENDPOINT_URL_CLOUDWATCH: s3Endpoint,
      CLOUDWATCH_NAMESPACE: ns,
      APP_NAME: "edms",
      BACKUP_DESTINATION: `file://${dir}`,
      DATABASE_URL: db.url,
      MEDIA_DIR: media,
      PG_BIN_DIR: pg.binDir,
      NOTIFY_WEBHOOK_URL: `${receiver.url}/hook`,
    };
    try {
      // A migration renamed documents_document.file: every configured kind of unusable column at once.
      const result = await runRunner(["backup", "--tier", "daily"], {
        ...env,
        MEDIA_REFERENCES: `nosuch.file,documents_document.nope,documents_document.pages,"no schema".t.c,"${ODD_TABLE}".x`,
      });
      expect(result.code, result.stderr).toBe(0);
      const [id] = await readdir(path.join(dir, "daily"));
      const written = JSON.parse(await readFile(path.join(dir, "daily", id!, "manifest.json"), "utf8")) as Manifest;
      expect(written.media?.references).toBeUndefined();
      const reason = written.media?.referencesNotRun?.reason ?? "";
      expect(reason).toContain('nosuch.file: table "nosuch" does not exist in the search path');
      expect(reason).toContain('documents_document.nope: table public.documents_document has no column "nope"');
      expect(reason).toContain(
        "documents_document.pages: column public.documents_document.pages is of type integer, not a text column",
      );
      expect(reason).toContain('"no schema".t.c: schema "no schema" does not exist');
      // The set is complete and restorable: verify reads every object.
      const verify = await runRunner(["verify", id!], env);
      expect(verify.code, verify.stderr).toBe(0);
      // Log: one warning that names the problems.
      const warning = result.logs.find((l) => l.stage === "references" && l.referenceCheck === "not-run");
      expect(warning?.msg).toMatch(/media reference check will not run: .*the backup goes ahead without it/);
      // Webhook: a field and the text.
      const payload = JSON.parse(receiver.requests.find((r) => r.method === "POST")!.body) as WebhookPayload;
      expect(payload.status).toBe("success");
      expect(payload.referenceCheckNotRun).toContain('table public.documents_document has no column "nope"');
      expect(payload.text).toMatch(/^:warning: .*WARNING: the media reference check did not run/);
      // Metric: ReferenceCheckNotRun = 1 (App only), what the stack's alarm watches; a good run publishes 0.
      const good = await runRunner(["backup", "--tier", "daily"], { ...env, MEDIA_REFERENCES: REFERENCES });
      expect(good.code, good.stderr).toBe(0);
      const cw = testCloudWatch(s3Endpoint);
      const points = await cw.send(
        new GetMetricStatisticsCommand({
          Namespace: ns,
          MetricName: METRIC_REFERENCE_CHECK_NOT_RUN,
          Dimensions: [{ Name: "App", Value: "edms" }],
          StartTime: new Date(Date.now() - 3600_000),
          EndTime: new Date(Date.now() + 3600_000),
          Period: 60,
          Statistics: ["Maximum", "Minimum", "SampleCount"],
        }),
      );
      const all = points.Datapoints ?? [];
      expect(all.reduce((n, d) => n + (d.SampleCount ?? 0), 0)).toBe(2);
      expect(Math.max(...all.map((d) => d.Maximum ?? 0))).toBe(1);
      expect(Math.min(...all.map((d) => d.Minimum ?? 1))).toBe(0);
    } finally {
      await receiver.close();
    }
    // The hostile table name was a lookup value, never SQL: the table is still there.
    expect(await sql(db.url, "select count(*)::int as n from documents_document")).toEqual([{ n: 8 }]);
  });

  it("an encrypted set's plain manifest says the check did not run without naming a column", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "edms-refs-bad-age-"));
    const key = await newAgeKey(dir, "refs");
    const result = await runRunner(["backup", "--tier", "daily"], {
      BACKUP_DESTINATION: `file://${dir}`,
      DATABASE_URL: db.url,
      MEDIA_DIR: media,
      PG_BIN_DIR: pg.binDir,
      ENCRYPTION_RECIPIENTS: key.recipient,
      // The default (store) format: encrypted, it needs the stack's store key.
      MEDIA_STORE_KEY: "media-references-store-key-0123456789abcdef",
      MEDIA_REFERENCES: "documents_document.renamed_file",
    });
    expect(result.code, result.stderr).toBe(0);
    const [id] = await readdir(path.join(dir, "daily"));
    const text = await readFile(path.join(dir, "daily", id!, "manifest.json"), "utf8");
    expect((JSON.parse(text) as Manifest).media?.referencesNotRun?.reason).toMatch(
      /names a column the database cannot check/,
    );
    expect(text).not.toContain("renamed_file");
  });

  it("a syntax error is exit 2 without touching the database", async () => {
    const result = await runRunner(["backup", "--tier", "daily", "--media-references", "a..b"], {
      BACKUP_DESTINATION: "file:///nonexistent-never-created",
      DATABASE_URL: db.url,
      MEDIA_DIR: media,
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('MEDIA_REFERENCES (--media-references): "a..b": empty name');
  });
});

describe("restore preamble", () => {
  it("names the apps whose migrations the backup is behind or ahead of, before it asks", async () => {
    const live = await newDatabase("refslive");
    await sql(
      live.url,
      `create table django_migrations (id serial primary key, app varchar(255), name varchar(255), applied timestamptz default now());
       insert into django_migrations (app, name) values ('documents', '0001_initial'), ('auth', '0001_initial'),
         ('documents', '0002_file'), ('documents', '0003_thumbnail'), ('newapp', '0001_initial');`,
    );
    // Without --yes and without a terminal, the restore stops at the question: nothing changes.
    const result = await runRunner(
      ["restore", "latest", "--tier", "daily", "--database-only", "--target-db", live.name],
      {
        BACKUP_DESTINATION: `file://${dest}`,
        DATABASE_URL: db.url,
        PG_BIN_DIR: pg.binDir,
      },
    );
    expect(result.code).toBe(2);
    const said = result.logs.filter((l) => l.stage === "migrations").map((l) => l.msg);
    expect(said).toEqual([
      expect.stringContaining("the backup predates migrations documents: 0003_thumbnail; newapp: 0001_initial"),
      expect.stringContaining("the backup is ahead of the live database for auth (0002_permissions)"),
    ]);
    expect(result.stderr).toContain("the backup predates migrations documents: 0003_thumbnail");
    expect(await sql(live.url, "select count(*)::int as n from django_migrations")).toEqual([{ n: 5 }]);
  });
});
