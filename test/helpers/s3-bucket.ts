// A fresh bucket per test on the shared moto_server, and what a test needs to inspect it: which
// objects exist, which multipart uploads are unfinished, an object's bytes.
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

export function testS3Client(endpoint: string): S3Client {
  return new S3Client({
    endpoint,
    forcePathStyle: true,
    region: "us-east-1",
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
  });
}

export interface TestBucket {
  name: string;
  client: S3Client;
  /** Environment for the runner: destination, endpoint, credentials. */
  env(prefix?: string): Record<string, string>;
  keys(): Promise<string[]>;
  unfinishedUploads(): Promise<string[]>;
  get(key: string): Promise<Buffer>;
  download(key: string, file: string): Promise<void>;
  put(key: string, body: Buffer | string): Promise<void>;
}

export async function createTestBucket(endpoint: string, options: { objectLock?: boolean } = {}): Promise<TestBucket> {
  const client = testS3Client(endpoint);
  const name = `test-${Date.now().toString(36)}-${randomBytes(3).toString("hex")}`;
  await client.send(new CreateBucketCommand({ Bucket: name, ObjectLockEnabledForBucket: options.objectLock }));
  const body = async (key: string): Promise<Readable> => {
    const out = await client.send(new GetObjectCommand({ Bucket: name, Key: key }));
    return out.Body as Readable;
  };
  return {
    name,
    client,
    env: (prefix = "edms") => ({
      BACKUP_DESTINATION: `s3://${name}/${prefix}`,
      S3_ENDPOINT: endpoint,
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "test",
      AWS_REGION: "us-east-1",
    }),
    async keys() {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket: name, ContinuationToken: token }));
        for (const o of page.Contents ?? []) keys.push(o.Key!);
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return keys.sort();
    },
    async unfinishedUploads() {
      const out = await client.send(new ListMultipartUploadsCommand({ Bucket: name }));
      return (out.Uploads ?? []).map((u) => u.Key!);
    },
    async get(key) {
      const chunks: Buffer[] = [];
      for await (const chunk of await body(key)) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    },
    async download(key, file) {
      await pipeline(await body(key), createWriteStream(file));
    },
    async put(key, content) {
      await client.send(new PutObjectCommand({ Bucket: name, Key: key, Body: content }));
    },
  };
}
