// The stat cache is merged with the walk by compareWalkOrder, once per file of every backup: the
// byte-wise comparison must order any two walked names exactly as comparing them component by
// component does (the walk's order), whatever bytes the components hold.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { components, joinComponents } from "../../runner/src/archive/entry-name.js";
import { compareWalkOrder } from "../../runner/src/media-store/stat-cache.js";

function byComponents(a: Buffer, b: Buffer): number {
  const x = components(a);
  const y = components(b);
  for (let i = 0; i < Math.min(x.length, y.length); i += 1) {
    const c = Buffer.compare(x[i]!, y[i]!);
    if (c) return c;
  }
  return x.length - y.length;
}

// Components of any bytes but "/" (including NUL, bytes below and above "/"), never "." or empty.
const component = fc
  .uint8Array({ minLength: 1, maxLength: 4 })
  .map((bytes) => Buffer.from(bytes.map((v) => (v === 0x2f ? 0x2e : v % 3 === 0 ? 0x2d : v))))
  .filter((c) => !c.equals(Buffer.from(".")));
const walkedName = fc.array(component, { minLength: 1, maxLength: 4 }).map((parts) => joinComponents(parts));

describe("compareWalkOrder", () => {
  it("orders walked names as a component-by-component comparison does", () => {
    fc.assert(
      fc.property(walkedName, walkedName, (a, b) => {
        expect(Math.sign(compareWalkOrder(a, b))).toBe(Math.sign(byComponents(a, b)));
      }),
      { numRuns: 2000 },
    );
    // The cases around "/": a folder's contents come before a sibling whose name continues with a lower byte.
    const n = (s: string) => Buffer.from(s, "latin1");
    expect(compareWalkOrder(n("a/b"), n("a-c"))).toBeLessThan(0);
    expect(compareWalkOrder(n("a/b"), n("a\0"))).toBeLessThan(0);
    expect(compareWalkOrder(n("a"), n("a/b"))).toBeLessThan(0);
    expect(compareWalkOrder(n("ab"), n("a/c"))).toBeGreaterThan(0);
  });
});
