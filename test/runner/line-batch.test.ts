// The index's and the stat cache's lines reach their streams in chunks (stages/line-batch.ts): the
// stream must receive every line, in order, unchanged, in few writes (a write per line was a pipe
// write or a zlib job per file), and a slow stream's backpressure must hold the writer back.
import { Writable } from "node:stream";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LineBatch } from "../../runner/src/stages/line-batch.js";

/** A stream that records each write, taking `delayMs` for each (highWaterMark 1: it asks to drain). */
function recorder(delayMs = 0): { out: Writable; writes: string[]; ended: () => boolean } {
  const writes: string[] = [];
  let ended = false;
  const out = new Writable({
    highWaterMark: 1,
    decodeStrings: false,
    write(chunk: string, _encoding, callback) {
      writes.push(chunk);
      setTimeout(callback, delayMs);
    },
    final(callback) {
      ended = true;
      callback();
    },
  });
  return { out, writes, ended: () => ended };
}

describe("LineBatch", () => {
  it("hands the stream every line in order, in about one write per `limit` characters", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.string({ maxLength: 300 }).map((s) => `${s}\n`),
          { maxLength: 400 },
        ),
        fc.integer({ min: 1, max: 4096 }),
        async (lines, limit) => {
          const r = recorder();
          const batch = new LineBatch(r.out, limit);
          for (const line of lines) await batch.add(line);
          await batch.end();
          await new Promise((resolve) => r.out.once("finish", resolve));
          expect(r.writes.join("")).toBe(lines.join(""));
          expect(r.ended()).toBe(true);
          const total = lines.reduce((n, l) => n + l.length, 0);
          // Each write but the last holds at least `limit` characters.
          expect(r.writes.length).toBeLessThanOrEqual(Math.floor(total / limit) + 1);
          for (const w of r.writes.slice(0, -1)) expect(w.length).toBeGreaterThanOrEqual(limit);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("5,000 index-sized lines are a handful of writes, not 5,000", async () => {
    const r = recorder();
    const batch = new LineBatch(r.out);
    const line = `${JSON.stringify({ path: "ZDAvZG9jLTYwLnBkZg==", sha256: "0".repeat(64), object: "1".repeat(80) })}\n`;
    for (let i = 0; i < 5000; i += 1) await batch.add(line);
    await batch.end();
    expect(r.writes.join("").length).toBe(5000 * line.length);
    expect(r.writes.length).toBeLessThanOrEqual(Math.ceil((5000 * line.length) / (64 * 1024)) + 1);
  });

  it("waits for a slow stream to drain before gathering the next chunk", async () => {
    const r = recorder(5);
    const batch = new LineBatch(r.out, 10);
    for (let i = 0; i < 20; i += 1) {
      await batch.add("0123456789\n");
      // Each line completes a chunk; add resolves only once the stream finished writing it.
      expect(r.writes.length).toBe(i + 1);
    }
    await batch.end();
  });
});
