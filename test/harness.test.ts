// Proves the shared test harness works before any real test depends on it: the PostgreSQL
// cluster and moto_server from global-setup, per-test databases, sample data and media trees.
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, inject, it } from "vitest";
import {
  createTestDatabase,
  largeObjectChecksums,
  sequenceValues,
  tableChecksums,
  type TestDatabase,
} from "./helpers/pg-test-db.js";
import {
  makeMediaTree,
  MEDIA_BIG_FILE,
  MEDIA_EMPTY_DIR,
  MEDIA_UNICODE_FILE,
  mediaTreeDigest,
  seedEdmsDatabase,
} from "./helpers/sample-data.js";

const run = promisify(execFile);

describe("PostgreSQL harness", () => {
  const pg = inject("pg");
  const dbs: TestDatabase[] = [];
  afterAll(async () => {
    await Promise.all(dbs.map((db) => db.drop()));
  });

  it("creates a database, seeds it and fingerprints it", async () => {
    const db = await createTestDatabase(pg, "harness");
    dbs.push(db);
    await seedEdmsDatabase(db.url);

    const tables = await tableChecksums(db.url);
    const byName = new Map(tables.map((t) => [`${t.schema}.${t.table}`, t]));
    expect([...byName.keys()]).toEqual([
      "audit.Audit Log",
      "public.auth_user",
      "public.documents_document",
      "public.documents_documentversion",
      "public.documents_scan",
      "public.documents_signaturerequest",
    ]);
    expect(byName.get("public.documents_document")?.rows).toBe(2000);
    expect(byName.get("public.documents_documentversion")?.rows).toBeGreaterThan(2000);
    expect(byName.get("audit.Audit Log")?.rows).toBe(2000);
    expect(byName.get("public.documents_signaturerequest")?.rows).toBe(0);
    for (const t of tables) expect(t.md5).toMatch(/^[0-9a-f]{32}$/);

    // Fingerprints are deterministic: a second database seeded the same way matches exactly.
    const twin = await createTestDatabase(pg, "harness twin");
    dbs.push(twin);
    await seedEdmsDatabase(twin.url);
    expect(await tableChecksums(twin.url)).toEqual(tables);
    expect(await largeObjectChecksums(twin.url)).toEqual(await largeObjectChecksums(db.url));

    const los = await largeObjectChecksums(db.url);
    expect(los).toHaveLength(5);
    const seqs = await sequenceValues(db.url);
    expect(seqs.find((s) => s.sequence === "document_number_seq")?.lastValue).toBe(String(100000 + 2000 + 41));
  });

  it("gives tests a working pg_dump from the cluster's binDir", async () => {
    const db = await createTestDatabase(pg, "harness_dump");
    dbs.push(db);
    await seedEdmsDatabase(db.url, { documents: 10 });
    const { stdout } = await run(join(pg.binDir, "pg_dump"), ["--schema-only", db.url]);
    expect(stdout).toContain('CREATE TABLE audit."Audit Log"');
    expect(stdout).toContain("CREATE TYPE public.workflow_state AS ENUM");
  });
});

describe("media tree", () => {
  let dir = "";
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("has the awkward entries backups must survive", async () => {
    dir = await mkdtemp(join(tmpdir(), "edms-media-"));
    await makeMediaTree(dir);
    const digest = await mediaTreeDigest(dir);
    const byPath = new Map(digest.map((e) => [e.path, e]));

    expect(byPath.get(MEDIA_UNICODE_FILE)?.type).toBe("file");
    expect(byPath.get(MEDIA_EMPTY_DIR)).toEqual({ path: MEDIA_EMPTY_DIR, type: "dir", size: 0, sha256: null });
    expect(digest.some((e) => e.type === "file" && e.size === 0)).toBe(true);
    const big = byPath.get(MEDIA_BIG_FILE);
    expect(big?.size).toBeGreaterThan(20 * 1024 * 1024);
    expect(big?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(digest.some((e) => e.path.split("/").length >= 5)).toBe(true);
    expect(digest.map((e) => e.path)).toEqual([...digest.map((e) => e.path)].sort());
  });
});

describe("S3 harness", () => {
  it("moto_server answers HTTP", async () => {
    const res = await fetch(`${inject("s3Endpoint")}/`);
    expect(res.status).toBe(200);
    await res.arrayBuffer();
  });

  it("workers see dummy AWS credentials", () => {
    expect(process.env.AWS_ACCESS_KEY_ID).toBeTruthy();
    expect(process.env.AWS_SECRET_ACCESS_KEY).toBeTruthy();
    expect(process.env.AWS_REGION).toBeTruthy();
  });
});
