// The hand-built HMAC (keyed-hash.ts) must give exactly what createHmac gives, for any key (short,
// a full block, longer than a block) and any message (bytes, or a string as its UTF-8 bytes), call
// after call on one instance: existing stores' object names and sets' segment cuts depend on it.
// The expected values are computed here with createHmac, never copied from an output.
import { createHash, createHmac } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { storeObjectKey } from "../../runner/src/contract.js";
import { KeyedHash } from "../../runner/src/media-store/keyed-hash.js";
import { StoreKey } from "../../runner/src/media-store/object-names.js";
import { SEGMENT_AVERAGE, SEGMENT_MAX, SegmentCutter } from "../../runner/src/media-store/segment-list.js";

const hmac = (key: Buffer, message: string | Buffer) => createHmac("sha256", key).update(message).digest();
// size "max": lengths spread over the whole range (fast-check otherwise keeps them short), so keys
// longer than a block and messages longer than the scratch buffer come up.
const bytes = (maxLength: number) => fc.uint8Array({ maxLength, size: "max" }).map((a) => Buffer.from(a));

describe("KeyedHash", () => {
  it("equals createHmac for any key and message, call after call", () => {
    fc.assert(
      fc.property(
        bytes(200),
        fc.array(fc.oneof(bytes(5000), fc.string({ unit: "binary", maxLength: 2000, size: "max" })), {
          minLength: 1,
          maxLength: 6,
        }),
        (key, messages) => {
          const keyed = new KeyedHash(key);
          for (const m of messages) {
            const expected = hmac(key, m);
            expect(keyed.digest(m)).toEqual(expected);
            expect(keyed.hex(m)).toBe(expected.toString("hex"));
            expect(keyed.head32(m)).toBe(expected.readUInt32BE(0));
          }
        },
      ),
      // No shrinking: a failing 5,000-byte case shrinks for minutes; the first one found is shown.
      { numRuns: 300, endOnFailure: true },
    );
  });
});

describe("names and cuts made with it", () => {
  const secret = Buffer.from("keyed-hash-test-secret-0123456789abcdef");
  const key = new StoreKey(secret);
  const shas = Array.from({ length: 50 }, (_, i) => createHash("sha256").update(`content ${i}`).digest("hex"));

  it("are the names createHmac gives (objects, chunks, derived keys)", () => {
    const recipients = ["age1zzz", "age1aaa"];
    for (const sha of shas) {
      const plain = hmac(secret, `edms-media-object-v1\0${sha}\0`).toString("hex");
      expect(key.keyOf(sha, {})).toBe(storeObjectKey(plain, false));
      const sealed = hmac(secret, `edms-media-object-v1\0${sha}\0age1aaa,age1zzz`).toString("hex");
      expect(key.keyOf(sha, { recipients })).toBe(storeObjectKey(sealed, true));
      const chunk = hmac(secret, `edms-media-chunk-v1\0index\0${sha}\0\0gen-1`).toString("hex");
      expect(key.chunkKeyOf("index", sha, {}, "gen-1")).toBe(storeObjectKey(chunk, false));
    }
    expect(key.derive("segment-v1")).toEqual(hmac(secret, "edms-derive-v1\0segment-v1"));
  });

  it("are the segment cuts createHmac gives, for names of any bytes", () => {
    const segmentKey = hmac(secret, "edms-derive-v1\0segment-v1");
    const threshold = Math.floor(2 ** 32 / SEGMENT_AVERAGE);
    const names = Array.from({ length: 20_000 }, (_, i) =>
      i % 7 === 0 ? Buffer.from([0xff, 0x0a, i & 0xff, (i >> 8) & 0xff]) : Buffer.from(`d${i >> 7}/doc-${i}.pdf`),
    );
    const cutter = new SegmentCutter(key.derive("segment-v1"));
    let count = 0;
    let cuts = 0;
    for (const name of names) {
      count += 1;
      const expected = hmac(segmentKey, name).readUInt32BE(0) < threshold || count >= SEGMENT_MAX;
      if (expected) [count, cuts] = [0, cuts + 1];
      expect(cutter.endsAfter(name)).toBe(expected);
    }
    expect(cuts).toBeGreaterThan(10);
  });
});
