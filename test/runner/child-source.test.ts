// The truncated-upload trap, with real processes and a real S3 server: a child that dies after
// writing must never become a stored object, however much it wrote.
import { afterEach, describe, expect, inject, it } from "vitest";
import { spawnChildSource } from "../../runner/src/stages/child-source.js";
import { uploadChildOutput } from "../../runner/src/stages/upload-stream.js";
import { S3Store } from "../../runner/src/store/s3-store.js";
import { createTestBucket, testS3Client } from "../helpers/s3-bucket.js";

const s3Endpoint = inject("s3Endpoint");
const MiB = 1024 * 1024;
const options = { partSize: 5 * MiB, queueSize: 2, contentType: "application/octet-stream" };

describe("child process output into S3", () => {
  let stop: (() => void) | undefined;
  afterEach(() => stop?.());

  it("stores the whole output, with its sha256, when the child exits 0", async () => {
    const bucket = await createTestBucket(s3Endpoint);
    const store = new S3Store({ bucket: bucket.name, prefix: "p" }, testS3Client(s3Endpoint));
    const source = spawnChildSource("sh", ["-c", "head -c 12000000 /dev/zero"], { label: "writer" });
    const result = await uploadChildOutput("t", source, store, "ok.bin", options).done;
    expect(result.bytes).toBe(12_000_000);
    const stored = await bucket.get("p/ok.bin");
    expect(stored.length).toBe(12_000_000);
    expect(result.sha256).toBe(require("node:crypto").createHash("sha256").update(stored).digest("hex"));
  });

  it("fails, and stores nothing, when the child exits non-zero after writing 12 MB", async () => {
    const bucket = await createTestBucket(s3Endpoint);
    const store = new S3Store({ bucket: bucket.name, prefix: "p" }, testS3Client(s3Endpoint));
    const source = spawnChildSource(
      "sh",
      ["-c", "head -c 12000000 /dev/zero; echo 'writer: disk on fire' >&2; exit 3"],
      { label: "writer" },
    );
    stop = source.stop;
    await expect(uploadChildOutput("t", source, store, "bad.bin", options).done).rejects.toThrow(
      /writer exited with code 3: writer: disk on fire/,
    );
    expect(await bucket.keys()).toEqual([]);
    expect(await bucket.unfinishedUploads()).toEqual([]);
  });

  it("fails, and stores nothing, for a small output (single PUT) of a failing child", async () => {
    const bucket = await createTestBucket(s3Endpoint);
    const store = new S3Store({ bucket: bucket.name, prefix: "p" }, testS3Client(s3Endpoint));
    const source = spawnChildSource("sh", ["-c", "echo partial; exit 1"], { label: "writer" });
    await expect(uploadChildOutput("t", source, store, "small.bin", options).done).rejects.toThrow(
      /exited with code 1/,
    );
    expect(await bucket.keys()).toEqual([]);
  });

  it("refuses to overwrite an existing object", async () => {
    const bucket = await createTestBucket(s3Endpoint);
    const store = new S3Store({ bucket: bucket.name, prefix: "p" }, testS3Client(s3Endpoint));
    await store.putSmall("m.json", "{}", { contentType: "application/json" });
    await expect(store.putSmall("m.json", '{"x":1}', { contentType: "application/json" })).rejects.toThrow(
      /refusing to overwrite/,
    );
    expect((await bucket.get("p/m.json")).toString()).toBe("{}");
  });
});
