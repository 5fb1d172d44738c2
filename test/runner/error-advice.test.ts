// Errors that say what to do (issue 26, item 7), against the real server and a real S3 endpoint:
// a wrong password is a password problem, not a TLS one; a missing role or database names the
// setting; no AWS credentials says where credentials come from, in the cluster and outside it.
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../helpers/pg-test-db.js";
import { closedPortUrl } from "../helpers/notify-receiver.js";
import { runRunner } from "../helpers/runner-cli.js";
import { createTestBucket } from "../helpers/s3-bucket.js";

const pg = inject("pg");
const s3Endpoint = inject("s3Endpoint");

let db: TestDatabase;
let mediaDir: string;
let backups: string;

beforeAll(async () => {
  db = await createTestDatabase(pg, "advice");
  mediaDir = await mkdtemp(path.join(tmpdir(), "edms-advice-media-"));
  backups = await mkdtemp(path.join(tmpdir(), "edms-advice-backups-"));
});

afterAll(async () => {
  await db.drop();
});

function urlWith(user: string, password: string, database = db.name): string {
  return `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${pg.host}:${pg.port}/${database}`;
}

describe("database connection errors say what to do", () => {
  const backup = (url: string, extra: Record<string, string> = {}) =>
    runRunner(["backup", "--tier", "daily"], {
      BACKUP_DESTINATION: `file://${backups}`,
      MEDIA_DIR: mediaDir,
      DATABASE_URL: url,
      ...extra,
    });

  it("a wrong password (sslmode=prefer, a server without TLS) reads as a wrong password, not as TLS", async () => {
    const result = await backup(urlWith(pg.user, "not-the-password"));
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/password authentication failed/);
    expect(result.stderr).toMatch(/the password is wrong for role "[^"]+" \(the connection itself worked\)/);
    expect(result.stderr).toMatch(/PGPASSWORD/);
    expect(result.stderr).not.toMatch(/TLS|requires it/);
    expect(result.stderr).not.toContain("not-the-password");
  });

  it("the same under PGSSLMODE=allow", async () => {
    const result = await backup(urlWith(pg.user, "bad-password-2x"), { PGSSLMODE: "allow" });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/the password is wrong/);
    expect(result.stderr).not.toMatch(/requires it/);
  });

  it("sslmode=require against a server without TLS still says TLS is required", async () => {
    const result = await backup(urlWith(pg.user, pg.password), { PGSSLMODE: "require" });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/does not offer TLS \(sslmode=require requires it/);
  });

  it("a database that does not exist names the setting", async () => {
    const result = await backup(urlWith(pg.user, pg.password, "no_such_database_here"));
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/does not exist.*check PGDATABASE or the database in DATABASE_URL/);
  });
});

describe("AWS credentials", () => {
  it("none at all: the message says where credentials come from instead of the SDK's bare sentence", async () => {
    const bucket = await createTestBucket(s3Endpoint);
    const home = await mkdtemp(path.join(tmpdir(), "edms-advice-home-"));
    const result = await runRunner(["list"], {
      BACKUP_DESTINATION: `s3://${bucket.name}/edms`,
      S3_ENDPOINT: s3Endpoint,
      AWS_REGION: "us-east-1",
      // No keys, no profile, no metadata service: the SDK's chain finds nothing.
      HOME: home,
      AWS_EC2_METADATA_DISABLED: "true",
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/no AWS credentials were found/);
    expect(result.stderr).toMatch(/IRSA/);
    expect(result.stderr).toMatch(/AWS_PROFILE/);
    expect(result.stderr).toMatch(/aws sts get-caller-identity/);
  });

  it("none for the run summary: the backup succeeds and its warning says where credentials come from", async () => {
    const home = await mkdtemp(path.join(tmpdir(), "edms-advice-home-"));
    const result = await runRunner(["backup", "--tier", "adhoc", "--no-database"], {
      BACKUP_DESTINATION: `file://${backups}`,
      MEDIA_DIR: mediaDir,
      RUN_SUMMARY_TOPIC_ARN: "arn:aws:sns:us-east-1:123456789012:edms-runs",
      // Never reached: the SDK looks for credentials before it sends anything.
      AWS_ENDPOINT_URL_SNS: await closedPortUrl(),
      AWS_REGION: "us-east-1",
      HOME: home,
      AWS_EC2_METADATA_DISABLED: "true",
    });
    expect(result.code).toBe(0);
    const warning = result.logs.find((l) => l.target === "sns" && l.level === "warn");
    expect(warning?.problem).toMatch(/^no AWS credentials were found: .*AWS_PROFILE/);
  });
});
