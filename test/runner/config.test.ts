// Bad configuration gets one message naming every bad or missing field (exit 2), and nothing runs.
import { describe, expect, it } from "vitest";
import { loadBackupSettings, loadCommonSettings } from "../../runner/src/settings/config.js";
import { ConfigError } from "../../runner/src/errors.js";
import { runRunner } from "../helpers/runner-cli.js";

const good = {
  BACKUP_DESTINATION: "s3://edms-backups/prod",
  BACKUP_TIER: "daily",
  DATABASE_URL: "postgres://app:s3cret@db:5432/edms",
  MEDIA_DIR: "/media",
};

function problems(env: Record<string, string>, overrides: Record<string, string> = {}): string[] {
  try {
    loadBackupSettings({ processEnv: env, overrides, isTty: false });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe("backup configuration", () => {
  it("accepts a complete configuration and applies defaults", () => {
    const s = loadBackupSettings({ processEnv: good, overrides: {}, isTty: false });
    expect(s.destination).toEqual({
      kind: "s3",
      bucket: "edms-backups",
      prefix: "prod",
      display: "s3://edms-backups/prod",
    });
    expect(s.database?.env).toMatchObject({
      PGHOST: "db",
      PGPORT: "5432",
      PGUSER: "app",
      PGPASSWORD: "s3cret",
      PGDATABASE: "edms",
    });
    expect(s.media).toEqual({ dir: "/media", compression: "zstd", level: 1, format: "store", transfers: 8 });
    expect(s).toMatchObject({ tier: "daily", trigger: "manual", logFormat: "json", queueSize: 2 });
  });

  it("lets flags override the environment", () => {
    const s = loadBackupSettings({
      processEnv: good,
      overrides: { BACKUP_TIER: "monthly", MEDIA_DIR: "/srv/media" },
      isTty: true,
    });
    expect(s.tier).toBe("monthly");
    expect(s.media?.dir).toBe("/srv/media");
    expect(s.logFormat).toBe("pretty");
  });

  it("accepts libpq variables instead of DATABASE_URL", () => {
    const s = loadBackupSettings({
      processEnv: { ...good, DATABASE_URL: "", PGHOST: "db", PGUSER: "app", PGPASSWORD: "pw", PGDATABASE: "edms" },
      overrides: {},
      isTty: false,
    });
    expect(s.database?.database).toBe("edms");
  });

  const cases: Array<[string, Record<string, string>, Record<string, string>, RegExp[]]> = [
    [
      "nothing set",
      {},
      {},
      [
        /^BACKUP_DESTINATION \(--destination\): required/,
        /^BACKUP_TIER \(--tier\): required/,
        /^DATABASE_URL .*no database named/,
        /^MEDIA_DIR .*required/,
      ],
    ],
    [
      "unknown tier",
      good,
      { BACKUP_TIER: "hourly" },
      [/^BACKUP_TIER \(--tier\): must be one of daily, weekly, monthly, adhoc \(got "hourly"\)/],
    ],
    ["bad destination scheme", { ...good, BACKUP_DESTINATION: "ftp://x/y" }, {}, [/unsupported scheme "ftp:"/]],
    [
      "relative file destination",
      { ...good, BACKUP_DESTINATION: "file://backups" },
      {},
      [/absolute path: file:\/\/\/absolute\/path/],
    ],
    ["bad bucket name", { ...good, BACKUP_DESTINATION: "s3://Bad_Bucket/x" }, {}, [/not a valid S3 bucket name/]],
    [
      "relative media dir",
      { ...good, MEDIA_DIR: "media" },
      {},
      [/^MEDIA_DIR \(--media-dir\): must be an absolute path/],
    ],
    [
      "bad compression",
      { ...good, MEDIA_COMPRESSION: "bzip2" },
      {},
      [/^MEDIA_COMPRESSION \(--compression\): must be one of gzip, zstd, none/],
    ],
    [
      "level out of range",
      { ...good, MEDIA_COMPRESSION: "gzip", MEDIA_COMPRESSION_LEVEL: "12" },
      {},
      [/gzip levels are 1 to 9 \(got 12\)/],
    ],
    ["non-numeric queue size", { ...good, S3_QUEUE_SIZE: "four" }, {}, [/^S3_QUEUE_SIZE: must be a whole number/]],
    [
      "nothing to back up",
      { ...good, BACKUP_DATABASE: "false", BACKUP_MEDIA: "false" },
      {},
      [/both are off, so there is nothing to back up/],
    ],
    ["half an object lock", { ...good, OBJECT_LOCK_MODE: "GOVERNANCE" }, {}, [/set both .* or neither/]],
    [
      "an endpoint flag with a folder",
      { ...good, BACKUP_DESTINATION: "file:///b" },
      { S3_ENDPOINT: "http://127.0.0.1:9000" },
      [/^S3_ENDPOINT \(--s3-endpoint\): only applies to s3:\/\//],
    ],
    ["a relative file: destination", { ...good, BACKUP_DESTINATION: "file:relative" }, {}, [/needs three slashes/]],
    ["not a postgres URL", { ...good, DATABASE_URL: "mysql://a:b@c/d" }, {}, [/must start with postgres:\/\//]],
    ["bad boolean", { ...good, BACKUP_MEDIA: "maybe" }, {}, [/^BACKUP_MEDIA \(--no-media\): must be true or false/]],
  ];

  it.each(cases)("%s", (_name, env, overrides, expected) => {
    const found = problems(env, overrides);
    expect(found).toHaveLength(expected.length);
    expected.forEach((re, i) => expect(found[i]).toMatch(re));
    // A password in DATABASE_URL is never echoed back.
    expect(found.join("\n")).not.toContain("s3cret");
  });

  // An ambient variable that cannot apply (a shared .env, a ConfigMap for several commands) is
  // ignored and said at debug level; only a flag given for this run is a mistake (issue 10, item 10).
  it("ignores ambient variables that do not apply to a file:// destination", () => {
    const s = loadBackupSettings({
      processEnv: {
        ...good,
        BACKUP_DESTINATION: "file:///b",
        S3_ENDPOINT: "http://127.0.0.1:9000",
        OBJECT_LOCK_MODE: "COMPLIANCE",
      },
      overrides: {},
      isTty: false,
    });
    expect(s.s3Endpoint).toBeUndefined();
    expect(s.lock).toBeUndefined();
    expect(s.ignored).toEqual([expect.stringMatching(/^S3_ENDPOINT/), expect.stringMatching(/^OBJECT_LOCK_MODE/)]);
    const flag = () =>
      loadCommonSettings({
        processEnv: { BACKUP_DESTINATION: "file:///b" },
        overrides: { S3_ENDPOINT: "http://127.0.0.1:9000" },
        isTty: false,
      });
    expect(flag).toThrow(/S3_ENDPOINT \(--s3-endpoint\): only applies to s3:\/\//);
  });

  it("common settings need only a destination", () => {
    expect(() => loadCommonSettings({ processEnv: {}, overrides: {}, isTty: false })).toThrow(/BACKUP_DESTINATION/);
    expect(
      loadCommonSettings({ processEnv: { BACKUP_DESTINATION: "file:///x" }, overrides: {}, isTty: false }).destination
        .kind,
    ).toBe("file");
  });

  it("the CLI prints every problem in one message and exits 2", async () => {
    const result = await runRunner(["backup", "--tier", "hourly"], {});
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/argument 'hourly' is invalid/);
    const missing = await runRunner(["backup", "--tier", "daily"], { MEDIA_DIR: "rel" });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(
      /^edms-backup: invalid configuration:\n {2}- BACKUP_DESTINATION.*\n {2}- DATABASE_URL.*\n {2}- MEDIA_DIR .*must be an absolute path/,
    );
  });
});

describe("backup configuration: the media store (MEDIA_FORMAT=store)", () => {
  const base = {
    BACKUP_DESTINATION: "file:///backups",
    BACKUP_TIER: "daily",
    BACKUP_DATABASE: "false",
    MEDIA_DIR: "/media",
  };
  const load = (env: Record<string, string>) =>
    loadBackupSettings({ processEnv: { ...base, ...env }, overrides: {}, isTty: false });
  const problems = (env: Record<string, string>): string[] => {
    try {
      load(env);
      return [];
    } catch (error) {
      return (error as ConfigError).problems;
    }
  };

  it("is the default; needs the per-stack key when encrypted, once, and long enough; never echoes it", () => {
    expect(load({}).media?.format).toBe("store");
    // Unencrypted, the destination keeps a key of its own (media-store/destination-key.ts).
    expect(problems({})).toEqual([]);
    const recipients = { ENCRYPTION_RECIPIENTS: "age1pt4p99lfcw6gqvjmkgf32dk4y3kyvj4xcqxkpk6ggsxs9dtfk55s4jxt2n" };
    for (const format of [{}, { MEDIA_FORMAT: "store" }] as Array<Record<string, string>>) {
      expect(problems({ ...format, ...recipients })).toEqual([
        "MEDIA_STORE_KEY_FILE (or MEDIA_STORE_KEY): required for encrypted backups in the store format (the default MEDIA_FORMAT), the per-stack secret that names content objects (openssl rand -hex 32; keep it: a new key stores every file again); or set MEDIA_FORMAT=tar to keep writing tar sets",
      ]);
    }
    expect(problems({ MEDIA_FORMAT: "tar", ...recipients })).toEqual([]);
    expect(load({ MEDIA_FORMAT: "tar" }).media?.format).toBe("tar");
    const short = problems({ MEDIA_FORMAT: "store", MEDIA_STORE_KEY: "s3cr3t-but-short" });
    expect(short.join("\n")).toMatch(/MEDIA_STORE_KEY: must be at least 32 characters/);
    expect(short.join("\n")).not.toContain("s3cr3t-but-short");
    expect(
      problems({ MEDIA_FORMAT: "store", MEDIA_STORE_KEY: "k".repeat(32), MEDIA_STORE_KEY_FILE: "/k" }).join("\n"),
    ).toMatch(/set one of them, not both/);
    expect(problems({ MEDIA_FORMAT: "zip" }).join("\n")).toMatch(
      /MEDIA_FORMAT \(--media-format\): must be one of tar, store/,
    );
    expect(
      load({ MEDIA_FORMAT: "store", MEDIA_STORE_KEY: "k".repeat(32), MEDIA_STORE_TRANSFERS: "3" }).media,
    ).toMatchObject({
      format: "store",
      transfers: 3,
    });
  });
});
