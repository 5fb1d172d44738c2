// The bundle as Node loads it (BENCHMARKS.md, start-up): ASCII only, because one non-ASCII byte
// makes V8 hold and scan the whole source as UTF-16; and the AWS SDK carried as a string that is
// compiled only when a command needs it (an S3 destination, CloudWatch, the SNS run summary), so the others never
// parse it. Watched from outside: a preload script reports each compile of the SDK's chunk.
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { BUNDLE, runRunner } from "../helpers/runner-cli.js";
import { createTestBucket } from "../helpers/s3-bucket.js";
import { createTestTopic } from "../helpers/sns-topic.js";
import { freePort } from "../helpers/pg-cluster.js";

const s3Endpoint = inject("s3Endpoint");
const MARK = "EDMS-TEST: aws-sdk chunk compiled";
/** node-postgres reads NODE_PG_FORCE_NATIVE once, when it is loaded. */
const PG_MARK = "EDMS-TEST: pg loaded";
let preload: string;

beforeAll(async () => {
  preload = path.join(await mkdtemp(path.join(tmpdir(), "edms-bundle-load-")), "watch.cjs");
  await writeFile(
    preload,
    `const vm = require("node:vm");
const compile = vm.compileFunction;
vm.compileFunction = function (source, params, options) {
  if (options && String(options.filename).endsWith("#aws-sdk")) process.stderr.write(${JSON.stringify(MARK + "\n")});
  return compile.apply(this, arguments);
};
process.env = new Proxy(process.env, {
  get(target, key) {
    if (key === "NODE_PG_FORCE_NATIVE") process.stderr.write(${JSON.stringify(PG_MARK + "\n")});
    return Reflect.get(target, key);
  },
});
`,
  );
});

const watched = () => ({ NODE_OPTIONS: `--require ${preload}` });
const compiles = (stderr: string) => stderr.split("\n").filter((l) => l === MARK).length;
const pgLoads = (stderr: string) => stderr.split("\n").filter((l) => l === PG_MARK).length;

describe("the runner's bundle", () => {
  it("is ASCII", async () => {
    const bytes = await readFile(BUNDLE);
    expect(bytes.findIndex((b) => b > 0x7f)).toBe(-1);
  });

  it("does not compile the AWS SDK for commands that do not use it", async () => {
    const version = await runRunner(["--version"], watched());
    expect(version.code, version.stderr).toBe(0);
    expect(compiles(version.stderr)).toBe(0);
    const root = await mkdtemp(path.join(tmpdir(), "edms-bundle-load-dest-"));
    const list = await runRunner(["list"], { ...watched(), BACKUP_DESTINATION: `file://${root}` });
    expect(list.code, list.stderr).toBe(0);
    expect(compiles(list.stderr)).toBe(0);
  });

  it("compiles it for a file:// backup only when it publishes a run summary, once, and it works", async () => {
    const media = await mkdtemp(path.join(tmpdir(), "edms-bundle-load-media-"));
    await writeFile(path.join(media, "a.txt"), "a");
    const backup = (extra: Record<string, string>) =>
      mkdtemp(path.join(tmpdir(), "edms-bundle-load-dest-")).then((root) =>
        runRunner(["backup", "--tier", "daily", "--no-database"], {
          ...watched(),
          BACKUP_DESTINATION: `file://${root}`,
          MEDIA_DIR: media,
          ...extra,
        }),
      );
    const silent = await backup({});
    expect(silent.code, silent.stderr).toBe(0);
    expect(compiles(silent.stderr)).toBe(0);
    const topic = await createTestTopic(s3Endpoint);
    const summarised = await backup(topic.env());
    expect(summarised.code, summarised.stderr).toBe(0);
    expect(compiles(summarised.stderr)).toBe(1);
    expect(await topic.published()).toHaveLength(1);
  });

  it("does not load node-postgres for a backup without a database; loads it to connect to one", async () => {
    const media = await mkdtemp(path.join(tmpdir(), "edms-bundle-load-media-"));
    await writeFile(path.join(media, "a.txt"), "a");
    const env = {
      ...watched(),
      BACKUP_DESTINATION: `file://${await mkdtemp(path.join(tmpdir(), "edms-bundle-load-dest-"))}`,
      MEDIA_DIR: media,
    };
    const mediaOnly = await runRunner(["backup", "--tier", "daily", "--no-database"], env);
    expect(mediaOnly.code, mediaOnly.stderr).toBe(0);
    expect(pgLoads(mediaOnly.stderr)).toBe(0);
    // Nothing listens there: the connection fails, after pg was loaded to try it.
    const withDatabase = await runRunner(["backup", "--tier", "daily"], {
      ...env,
      DATABASE_URL: `postgresql://edms@127.0.0.1:${await freePort()}/edms`,
    });
    expect(withDatabase.stderr).toContain("could not connect to the database");
    expect(pgLoads(withDatabase.stderr)).toBe(1);
  });

  it("compiles it once, and it works, for an S3 destination", async () => {
    const bucket = await createTestBucket(s3Endpoint);
    const result = await runRunner(["status", "--json"], { ...bucket.env("edms"), ...watched() });
    expect(compiles(result.stderr)).toBe(1);
    expect(JSON.parse(result.stdout)).toMatchObject({ destination: `s3://${bucket.name}/edms` });
  });
});
