// The stat cache's seal: whatever bytes go in come back out with the key, and nothing else does:
// a flipped bit, another key, a dropped or reordered chunk fail; a cut stream is not `complete`.
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CHUNK, openStream, sealStream } from "../../runner/src/media-store/sealed-stream.js";

const key = randomBytes(32);
const seal = async (data: Buffer, k = key) => buffer(Readable.from([data]).pipe(sealStream(k)));
async function open(sealed: Buffer, k = key): Promise<{ plain?: Buffer; error?: unknown; complete: boolean }> {
  const o = openStream(k);
  try {
    const plain = await buffer(Readable.from([sealed]).pipe(o));
    return { plain, complete: o.complete };
  } catch (error) {
    return { error, complete: o.complete };
  }
}

describe("sealed streams", () => {
  it("round-trip any bytes, including several chunks", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 3 * CHUNK + 7 }), async (size) => {
        const data = randomBytes(size);
        const r = await open(await seal(data));
        expect(r.error).toBeUndefined();
        expect(r.plain!.equals(data)).toBe(true);
        expect(r.complete).toBe(true);
      }),
      { numRuns: 20 },
    );
  });

  it("refuse a flipped bit anywhere, and another key", async () => {
    const data = randomBytes(2 * CHUNK + 100);
    const sealed = await seal(data);
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: sealed.length - 1 }),
        fc.integer({ min: 0, max: 7 }),
        async (at, bit) => {
          const bad = Buffer.from(sealed);
          bad[at] = bad[at]! ^ (1 << bit);
          const r = await open(bad);
          // Every byte that came out is genuine, and the whole stream never opens.
          expect(r.error !== undefined || !r.complete).toBe(true);
          if (r.plain) expect(data.subarray(0, r.plain.length).equals(r.plain)).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
    expect((await open(sealed, randomBytes(32))).error).toBeDefined();
  });

  it("a stream cut at a chunk boundary or with chunks swapped is not complete", async () => {
    const data = randomBytes(3 * CHUNK + 10);
    const sealed = await seal(data);
    const frame = 4 + CHUNK + 16;
    const head = 17;
    const cut = sealed.subarray(0, head + frame);
    const r = await open(cut);
    expect(r.error).toBeUndefined();
    expect(r.complete).toBe(false);
    const swapped = Buffer.concat([
      sealed.subarray(0, head),
      sealed.subarray(head + frame, head + 2 * frame),
      sealed.subarray(head, head + frame),
      sealed.subarray(head + 2 * frame),
    ]);
    expect((await open(swapped)).error).toBeDefined();
  });
});
