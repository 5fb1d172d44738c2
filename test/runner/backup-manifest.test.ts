// What a backup's manifest says for given inputs (catalog/backup-manifest.ts, catalog/commit-set.ts):
// the whole manifest is compared, so a dropped or renamed field fails here before any e2e run.
import { describe, expect, it } from "vitest";
import { buildBackupManifest, type BackupFacts } from "../../runner/src/catalog/backup-manifest.js";
import { sealedManifest } from "../../runner/src/catalog/commit-set.js";
import { parseManifest, serializeManifest } from "../../runner/src/catalog/manifest.js";
import { namesOf } from "../../runner/src/encryption/names.js";
import { RUNNER_VERSION } from "../../runner/src/version.js";

const sha = (c: string) => c.repeat(64);

const owned = {
  owners: ["app"],
  definers: [{ function: "public.f()", owner: "app" }],
  roles: [
    {
      name: "app",
      login: true,
      inherit: true,
      createdb: false,
      createrole: false,
      replication: false,
      bypassrls: false,
      connectionLimit: -1,
      memberOf: [],
    },
  ],
  tablespaces: [],
  properties: { owner: "app", connectionLimit: -1, comment: null, acl: null, settings: [] },
};

/** What the database entry says for facts() whatever was read beside the dump. */
const dumpEntry = {
  key: "database.dump.zst",
  bytes: 1000,
  sha256: sha("a"),
  format: "custom",
  compression: "zstd:3",
  pgRestoreMin: 16,
  name: "edms",
  pgDumpVersion: "16.4",
  serverVersion: "16.2",
  tableCount: 2,
  rowCount: 42,
  rowCounting: "only",
  tables: [
    { schema: "public", table: "documents", rows: 40 },
    { schema: "public", table: "users", rows: 2 },
  ],
};

/** The media reference check's result, as given and as the manifest records it. */
const references = {
  columns: ["public.documents.file"],
  referenced: 11,
  missing: 1,
  missingPaths: ["gone.pdf"],
  unreferenced: 2,
};

function facts(over: Partial<BackupFacts> = {}): BackupFacts {
  return {
    backupId: "20261207T123000Z-ab12",
    tier: "daily",
    trigger: "schedule",
    startedAt: new Date("2026-12-07T12:30:00Z"),
    finishedAt: new Date("2026-12-07T12:31:40Z"),
    appName: "edms",
    appVersion: "4.2.0",
    database: {
      stored: { key: "database.dump.zst", bytes: 1000, sha256: sha("a") },
      compression: { method: "zstd", level: 3 },
      name: "edms",
      pgDumpVersion: "16.4",
      serverVersion: "16.2",
      tables: [
        { schema: "public", table: "documents", rows: 40 },
        { schema: "public", table: "users", rows: 2 },
      ],
      warnings: ["subscriptions not dumped because current user is not a superuser"],
      owned,
      migrations: { documents: "0042_add_tags" },
    },
    media: {
      stored: { key: "media.tar.zst", bytes: 5000, sha256: sha("b") },
      compression: "zstd",
      tally: { files: 12, sourceBytes: 9000 },
      references,
    },
    ...over,
  };
}

describe("the backup manifest", () => {
  it("of a tar-format set says every fact it was given, format 3", () => {
    const manifest = buildBackupManifest(facts());
    expect(manifest).toEqual({
      formatVersion: 3,
      backupId: "20261207T123000Z-ab12",
      tier: "daily",
      trigger: "schedule",
      startedAt: "2026-12-07T12:30:00.000Z",
      finishedAt: "2026-12-07T12:31:40.000Z",
      runnerVersion: RUNNER_VERSION,
      appName: "edms",
      appVersion: "4.2.0",
      database: {
        ...dumpEntry,
        warningCount: 1,
        warnings: ["subscriptions not dumped because current user is not a superuser"],
        ...owned,
        migrations: { documents: "0042_add_tags" },
      },
      media: {
        key: "media.tar.zst",
        bytes: 5000,
        sha256: sha("b"),
        compression: "zstd",
        files: 12,
        sourceBytes: 9000,
        references,
      },
    });
    // What is written is what a reader accepts.
    expect(parseManifest(serializeManifest(manifest), "test")).toEqual(manifest);
  });

  it("of a store-format set is format 4, in segments, and names the store's counts", () => {
    const stats = {
      objects: 10,
      objectBytes: 8000,
      uploadedObjects: 3,
      uploadedBytes: 2000,
      reusedObjects: 7,
      unchangedFiles: 9,
      segments: 2,
      chunks: 6,
      chunkBytes: 1800,
      uploadedChunks: 3,
      uploadedChunkBytes: 900,
    };
    const manifest = buildBackupManifest(
      facts({
        media: {
          stored: { key: "media-segments.txt", bytes: 700, sha256: sha("d") },
          compression: "none",
          tally: { files: 12, sourceBytes: 9000 },
          store: { stats },
        },
      }),
    );
    expect(manifest.formatVersion).toBe(4);
    expect(manifest.media).toEqual({
      key: "media-segments.txt",
      bytes: 700,
      sha256: sha("d"),
      compression: "none",
      format: "store",
      layout: "segments",
      store: stats,
      files: 12,
      sourceBytes: 9000,
    });
    expect(parseManifest(serializeManifest(manifest), "test")).toEqual(manifest);
  });

  it("leaves out what was not read: no warnings, owners, migrations; no database, no media", () => {
    const base = facts();
    const manifest = buildBackupManifest(
      facts({
        database: { ...base.database!, warnings: [], owned: undefined, migrations: null },
        media: null,
      }),
    );
    expect(manifest.database).toEqual({
      ...dumpEntry,
      warningCount: 0,
    });
    expect(manifest.media).toBeNull();
    expect(buildBackupManifest(facts({ database: null })).database).toBeNull();
  });

  it("says why the reference check did not run", () => {
    const base = facts();
    const manifest = buildBackupManifest(
      facts({ media: { ...base.media!, references: undefined, referencesNotRun: "MEDIA_REFERENCES names a column" } }),
    );
    expect(manifest.media?.referencesNotRun).toEqual({ reason: "MEDIA_REFERENCES names a column" });
    expect(manifest.media).not.toHaveProperty("references");
  });

  it("of an encrypted set names no table in plain: the names member holds them", () => {
    const full = buildBackupManifest(facts());
    const names = { key: "names.json.age", bytes: 400, sha256: sha("e") };
    const recipients = ["age1qqqq"];
    const sealed = sealedManifest(full, recipients, names);
    expect(sealed.encryption).toEqual({ format: "age", recipients, names });
    const plain = JSON.stringify(sealed);
    for (const name of ["documents", "0042_add_tags", "subscriptions not dumped", "public.f()", "gone.pdf"])
      expect(plain).not.toContain(name);
    // Counts and sizes stay in plain.
    expect(sealed.database).toMatchObject({ tableCount: 2, rowCount: 42, warningCount: 1, bytes: 1000 });
    expect(sealed.media).toMatchObject({ files: 12, references: { referenced: 11, missing: 1, unreferenced: 2 } });
    expect(JSON.stringify(namesOf(full))).toContain("documents");
    expect(parseManifest(serializeManifest(sealed), "test")).toEqual(sealed);
  });
});
