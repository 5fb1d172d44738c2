// The multipart part size: the minimum for small streams, under S3's 10,000 parts for huge ones.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { choosePartSize, MAX_PARTS } from "../../runner/src/store/part-size.js";

const MiB = 1024 * 1024;

describe("part size", () => {
  it("stays at the minimum for small streams", () => {
    // S3's minimum part size (5 MiB): the least memory per part in flight.
    expect(choosePartSize(0)).toBe(5 * MiB);
    expect(choosePartSize(10 * 1024 * MiB)).toBe(5 * MiB);
  });
  it("for any estimate up to 5 TiB: whole MiB, at least S3's 5 MiB, and a stream 30% larger than estimated still fits", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5 * 2 ** 40 }), (estimate) => {
        const part = choosePartSize(estimate);
        expect(part % MiB).toBe(0);
        expect(part).toBeGreaterThanOrEqual(5 * MiB);
        expect(Math.ceil((estimate * 1.3) / part)).toBeLessThan(MAX_PARTS);
      }),
    );
  });
  it("keeps a 1 TiB stream under 10,000 parts even when the estimate is 25% low", () => {
    const tib = 1024 * 1024 * MiB;
    const part = choosePartSize(tib);
    expect(Math.ceil(tib / part)).toBeLessThanOrEqual(MAX_PARTS * 0.75 + 1);
    expect(Math.ceil((tib * 1.3) / part)).toBeLessThan(MAX_PARTS);
    expect(part % MiB).toBe(0);
  });
  it("honours an override", () => {
    expect(choosePartSize(1e12, 16)).toBe(16 * MiB);
  });
});
