// The sha256 the manifest vouches for (stages/digest-meter.ts) must be exactly node:crypto's digest
// of the bytes that passed, for any chunking, size and number of streams at once, and a failed
// stream must not produce a digest.
import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DigestMeter } from "../../runner/src/stages/digest-meter.js";

const MiB = 1 << 20;

/** Runs `chunks` through a meter into a sink that keeps what it got; returns both sides. */
async function meter(chunks: Buffer[]): Promise<{ meter: DigestMeter; passed: Buffer }> {
  const m = new DigestMeter();
  const got: Buffer[] = [];
  await pipeline(Readable.from(chunks), m, async (source: AsyncIterable<Buffer>) => {
    for await (const c of source) got.push(c);
  });
  return { meter: m, passed: Buffer.concat(got) };
}

function sha256(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

describe("DigestMeter", () => {
  it("gives node:crypto's digest and passes every byte through unchanged, for any chunking", async () => {
    // Empty, around 1 MiB and several MiB, in chunks of 1 byte to 300 KiB.
    const sizes = fc.oneof(
      fc.constantFrom(0, 1, MiB - 1, MiB, MiB + 1, 4 * MiB, 5 * MiB + 3),
      fc.integer({ min: 0, max: 6 * MiB }),
    );
    await fc.assert(
      fc.asyncProperty(
        sizes,
        fc.array(fc.integer({ min: 1, max: 300 * 1024 }), { minLength: 1, maxLength: 8 }),
        async (size, cuts) => {
          const data = randomBytes(size);
          const chunks: Buffer[] = [];
          for (let at = 0, i = 0; at < size; i++) {
            const n = Math.min(cuts[i % cuts.length]!, size - at);
            chunks.push(data.subarray(at, at + n));
            at += n;
          }
          const { meter: m, passed } = await meter(chunks);
          expect(m.bytes).toBe(size);
          expect(m.sha256).toBe(sha256(data));
          expect(passed.equals(data)).toBe(true);
        },
      ),
      { numRuns: 25 },
    );
  });

  it("keeps streams that run at once apart", async () => {
    const inputs = Array.from({ length: 6 }, (_, i) => randomBytes(3 * MiB + i * 1000));
    const results = await Promise.all(inputs.map((d) => meter([d.subarray(0, MiB / 3), d.subarray(MiB / 3)])));
    results.forEach((r, i) => expect(r.meter.sha256).toBe(sha256(inputs[i]!)));
  });

  it("a failed stream has no digest, and the next one is still right", async () => {
    const m = new DigestMeter();
    const failing = new Readable({
      read() {
        this.push(randomBytes(MiB));
        if (m.bytes > 3 * MiB) this.destroy(new Error("source died"));
      },
    });
    await expect(
      pipeline(failing, m, async (s: AsyncIterable<Buffer>) => {
        for await (const _ of s);
      }),
    ).rejects.toThrow("source died");
    expect(m.finished).toBe(false);
    expect(() => m.sha256).toThrow(/before the stream ended/);
    const data = randomBytes(2 * MiB + 5);
    expect((await meter([data])).meter.sha256).toBe(sha256(data));
  });
});
