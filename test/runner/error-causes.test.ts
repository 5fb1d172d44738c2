// A failure keeps what caused it (`new Error(message, { cause })`): the one-line message says what
// to do, and at LOG_LEVEL=debug (only then) the log also carries the chain underneath it, the
// SDK's or the driver's own error, redacted like every other field.
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../helpers/pg-test-db.js";
import { runRunner, type RunnerResult } from "../helpers/runner-cli.js";
import { createTestBucket } from "../helpers/s3-bucket.js";

const pg = inject("pg");
const s3Endpoint = inject("s3Endpoint");

let db: TestDatabase;
let mediaDir: string;

beforeAll(async () => {
  db = await createTestDatabase(pg, "causes");
  mediaDir = await mkdtemp(path.join(tmpdir(), "edms-media-"));
});

afterAll(async () => {
  await db.drop();
});

/** The `causes` of the debug lines, in order. */
function causes(result: RunnerResult): string[] {
  return result.logs.flatMap((line) => (Array.isArray(line.causes) ? (line.causes as string[]) : []));
}

describe("the causes of a failure", () => {
  it("an S3 call that fails (a bucket moto does not have) shows the SDK's error at debug, not at info", async () => {
    const bucket = await createTestBucket(s3Endpoint);
    const env = {
      ...bucket.env(),
      BACKUP_DESTINATION: `s3://${bucket.name}-missing/edms`,
      DATABASE_URL: db.url,
      MEDIA_DIR: mediaDir,
    };
    const debug = await runRunner(["backup", "--tier", "daily"], { ...env, LOG_LEVEL: "debug" });
    expect(debug.code).toBe(1);
    expect(debug.stderr).toMatch(/NoSuchBucket.*check BACKUP_DESTINATION/);
    const chain = causes(debug);
    expect(chain.at(-1)).toMatch(/^NoSuchBucket: .*\(HTTP 404\)$/);
    expect(chain[0]).toMatch(/^Error: S3 .* failed: NoSuchBucket/);

    const info = await runRunner(["backup", "--tier", "daily"], env);
    expect(info.code).toBe(1);
    expect(info.stderr).toMatch(/NoSuchBucket.*check BACKUP_DESTINATION/);
    expect(causes(info)).toEqual([]);
    expect(info.stdout).not.toMatch(/HTTP 404/);
  });

  it("a refused database connection shows the server's own error at debug, with every secret redacted", async () => {
    const bucket = await createTestBucket(s3Endpoint);
    // A role name that is also the password: the server's message names the role, so the secret
    // reaches the cause chain as the bare word, not only inside a URL.
    const secret = "hunter2secretpw";
    const env = {
      ...bucket.env(),
      DATABASE_URL: `postgres://${secret}:${secret}@${pg.host}:${pg.port}/${db.name}`,
      MEDIA_DIR: mediaDir,
    };
    const debug = await runRunner(["backup", "--tier", "daily"], { ...env, LOG_LEVEL: "debug" });
    expect(debug.code).toBe(1);
    const chain = causes(debug);
    expect(chain.join("\n")).toMatch(/PgConnectError: could not connect to the database/);
    expect(chain.at(-1)).toMatch(/^error: password authentication failed for user "\*\*\*" \(code 28P01\)$/);
    expect(debug.stdout + debug.stderr).not.toContain(secret);

    const info = await runRunner(["backup", "--tier", "daily"], env);
    expect(info.code).toBe(1);
    expect(causes(info)).toEqual([]);
    expect(info.stdout + info.stderr).not.toContain(secret);
  });
});
