// `pg_dump | zstd` joined by an OS pipe (spawnChildPipeline): the consumer only sees a clean end
// of input when the producer dies, so the output must fail on the producer's exit status too.
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { spawnChildPipeline } from "../../runner/src/stages/child-source.js";

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
