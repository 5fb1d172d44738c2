// The multipart part size: the minimum for small streams, under S3's 10,000 parts for huge ones.
import { describe, expect, it } from "vitest";
import { choosePartSize, MAX_PARTS } from "../../runner/src/part-size.js";

const MiB = 1024 * 1024;

describe("part size", () => {
  it("stays at the minimum for small streams", () => {
    expect(choosePartSize(0)).toBe(8 * MiB);
    expect(choosePartSize(10 * 1024 * MiB)).toBe(8 * MiB);
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
