// `pg_dump | zstd` joined by an OS pipe (spawnChildPipeline): the consumer only sees a clean end
// of input when the producer dies, so the output must fail on the producer's exit status too.
// And its inverse on restore, `zstd -d | pg_restore` fed by the runner (spawnSinkChain): every
// step's exit status counts, the failure reported is the step that caused it, and the runner
// reads its whole source whatever the steps do (the hash upstream must see every stored byte).
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { spawnSinkChain } from "../../runner/src/stages/child-sink.js";
import { spawnChildPipeline } from "../../runner/src/stages/child-source.js";
import { ZSTD_DECOMPRESS } from "../../runner/src/stages/zstd.js";

async function drain(stream: NodeJS.ReadableStream): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash("sha256");
  let bytes = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { bytes, sha256: hash.digest("hex") };
}

const step = (script: string, label: string) => ({ command: "bash", args: ["-c", script], options: { label } });

describe("spawnChildPipeline (producer | consumer through an OS pipe)", () => {
  it("passes the producer's bytes through the consumer (real zstd round trip)", async () => {
    const source = spawnChildPipeline(
      step("head -c 20000000 /dev/urandom | tee >(sha256sum >&2)", "producer"),
      step("zstd -q -c -1 | zstd -q -d -c", "zstd"),
    );
    const out = await drain(source.stream);
    await source.exited;
    expect(out.bytes).toBe(20_000_000);
  });

  it("fails when the producer dies, although the consumer saw a clean end and exited 0", async () => {
    const source = spawnChildPipeline(
      step("head -c 5000000 /dev/zero; echo 'producer: lost its connection' >&2; exit 3", "pg_dump"),
      step("zstd -q -c -1", "zstd (database dump)"),
    );
    await expect(drain(source.stream)).rejects.toThrow(/pg_dump exited with code 3: producer: lost its connection/);
    await expect(source.exited).rejects.toThrow(/pg_dump exited with code 3/);
  });

  it("fails when the consumer dies, naming it", async () => {
    const source = spawnChildPipeline(
      step("head -c 50000000 /dev/zero", "pg_dump"),
      step("head -c 1000 >/dev/null; kill -9 $$", "zstd (database dump)"),
    );
    await expect(drain(source.stream)).rejects.toThrow(/zstd \(database dump\) was killed by SIGKILL/);
  });
});

/** `data` in 64 KiB chunks, counting what the consumer really pulled. */
function counted(data: Buffer): { stream: Readable; read: () => number } {
  let read = 0;
  function* chunks() {
    for (let at = 0; at < data.length; at += 65_536) {
      const chunk = data.subarray(at, at + 65_536);
      read += chunk.length;
      yield chunk;
    }
  }
  return { stream: Readable.from(chunks()), read: () => read };
}

describe("spawnSinkChain (runner | zstd -d | consumer, the last two joined by an OS pipe)", () => {
  // Random bytes, so the frame is as long as the data and a byte in its middle is block content.
  const plain = randomBytes(8_000_000);
  const frame = execFileSync("zstd", ["-q", "-c", "-1"], { input: plain, maxBuffer: 64 << 20 });

  it("delivers the decompressed bytes to the last step and resolves when every step exited 0", async () => {
    const sink = spawnSinkChain([
      ZSTD_DECOMPRESS,
      step(`test "$(sha256sum | cut -c1-64)" = ${createHash("sha256").update(plain).digest("hex")}`, "pg_restore"),
    ]);
    const input = counted(frame);
    await sink.feed(input.stream);
    expect(input.read()).toBe(frame.length);
  });

  it("a corrupted frame: names zstd (not the consumer left with a short input), and still reads the whole source", async () => {
    const bad = Buffer.from(frame);
    bad[Math.floor(bad.length / 2)] ^= 0xff;
    const sink = spawnSinkChain([
      ZSTD_DECOMPRESS,
      step("cat >/dev/null; echo 'pg_restore: error: unexpected end of file' >&2; exit 1", "pg_restore"),
    ]);
    const input = counted(bad);
    await expect(sink.feed(input.stream)).rejects.toThrow(/^zstd --decompress exited with code 1/);
    expect(input.read()).toBe(bad.length);
  });

  it("the consumer fails early: names it (zstd then dies writing into it), and still reads the whole source", async () => {
    const sink = spawnSinkChain([
      ZSTD_DECOMPRESS,
      step("head -c 1000 >/dev/null; echo 'pg_restore: error: relation exists' >&2; exit 1", "pg_restore"),
    ]);
    const input = counted(frame);
    await expect(sink.feed(input.stream)).rejects.toThrow(
      /^pg_restore exited with code 1: pg_restore: error: relation exists/,
    );
    expect(input.read()).toBe(frame.length);
  });

  it("a truncated frame fails although the consumer exited 0 on the short input", async () => {
    const sink = spawnSinkChain([ZSTD_DECOMPRESS, step("cat >/dev/null", "pg_restore")]);
    await expect(sink.feed(Readable.from([frame.subarray(0, frame.length >> 1)]))).rejects.toThrow(
      /^zstd --decompress exited with code 1/,
    );
  });

  it("a failing source stops every step and fails the feed with the source's error", async () => {
    const sink = spawnSinkChain([ZSTD_DECOMPRESS, step("cat >/dev/null", "pg_restore")]);
    async function* failing() {
      yield frame.subarray(0, 100_000);
      throw new Error("download: connection reset");
    }
    await expect(sink.feed(Readable.from(failing()))).rejects.toThrow(/download: connection reset/);
    await expect(sink.exited).rejects.toThrow();
  });
});
