/**
 * Requests the media store makes for Object Lock (`npm run bench:lock [-- FILES]`): a bucket with
 * Object Lock on moto, FILES small documents (default 2000), and the bundled runner through a
 * proxy that counts HeadObject and PutObjectRetention on content objects, for the sequence a stack
 * runs: daily, daily, monthly, daily, and a daily that reads every file again (`--rehash`).
 * Prints one row per run. What it shows is in BENCHMARKS.md ("Object Lock on the content store").
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { awsTestEnv, startMoto } from "../test/helpers/moto.js";
import { refusingS3 } from "../test/helpers/refusing-s3.js";

const FILES = Number(process.argv[2] ?? 2000);
const BUNDLE = resolve(__dirname, "../dist/edms-backup.cjs");

async function main(): Promise<void> {
  const moto = await startMoto();
  const proxy = await refusingS3(moto.endpoint, []);
  const work = await mkdtemp(join(tmpdir(), "edms-bench-lock-"));
  try {
    const client = new S3Client({
      endpoint: moto.endpoint,
      forcePathStyle: true,
      region: "us-east-1",
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
    });
    await client.send(new CreateBucketCommand({ Bucket: "bench", ObjectLockEnabledForBucket: true }));
    const media = join(work, "media");
    await mkdir(media);
    for (let i = 0; i < FILES; i += 1) await writeFile(join(media, `doc-${i}.pdf`), randomBytes(512));
    // Asynchronously: the counting proxy runs in this process and must keep serving.
    const run = async (tier: string, days: number, args: string[] = []) => {
      proxy.seen.length = 0;
      const started = Date.now();
      await promisify(execFile)("node", [BUNDLE, "backup", "--tier", tier, "--no-database", ...args], {
        env: {
          ...process.env,
          ...awsTestEnv(),
          BACKUP_DESTINATION: "s3://bench/edms",
          S3_ENDPOINT: proxy.endpoint,
          MEDIA_DIR: media,
          MEDIA_FORMAT: "store",
          MEDIA_STORE_KEY: "bench-object-lock-key-0123456789abcdef",
          OBJECT_LOCK_MODE: "GOVERNANCE",
          OBJECT_LOCK_DAYS: String(days),
          LOG_FORMAT: "json",
        },
        maxBuffer: 64 * 1024 * 1024,
      });
      const onObjects = proxy.seen.filter((o) => o.path.includes("/store/objects/"));
      const count = (op: string) => onObjects.filter((o) => o.operation === op).length;
      const row = [
        `${tier} ${days} d ${args.join(" ")}`.padEnd(22),
        String(count("HeadObject")).padStart(10),
        String(count("PutObjectRetention")).padStart(20),
        `${((Date.now() - started) / 1000).toFixed(1)} s`.padStart(8),
      ];
      console.log(row.join(" | "));
    };
    console.log(`${FILES} files, one content each; requests on content objects per run`);
    console.log(`${"run".padEnd(22)} | HeadObject | PutObjectRetention |     time`);
    await run("daily", 7);
    await run("daily", 7);
    await run("monthly", 366);
    await run("daily", 7);
    await run("daily", 7, ["--rehash"]);
  } finally {
    await proxy.close();
    await moto.stop();
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
