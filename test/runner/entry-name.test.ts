// Entry names are bytes from a walk or from tar's listing: hasDotDot decides whether a name can
// climb out of the extraction folder, for every entry of every backup and restore. It scans the
// bytes (no Buffer a component); checked against the plain definition, a component equal to "..",
// over generated names made of the bytes that matter ("/", ".") and anything else.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { components, hasDotDot } from "../../runner/src/archive/entry-name.js";

const byte = fc.oneof(fc.constantFrom(0x2f, 0x2e), fc.integer({ min: 0, max: 255 }));
const name = fc.array(byte, { maxLength: 24 }).map((b) => Buffer.from(b));

describe("hasDotDot", () => {
  it('is true exactly when a component is ".." (property)', () => {
    fc.assert(
      fc.property(name, (n) => {
        expect(hasDotDot(n)).toBe(components(n).some((c) => c.equals(Buffer.from(".."))));
      }),
      { numRuns: 20000 },
    );
  });

  it("knows the cases by name", () => {
    for (const [n, want] of [
      ["..", true],
      ["../a", true],
      ["a/..", true],
      ["a/../b", true],
      ["a//..//b", true],
      ["...", false],
      ["a..", false],
      ["..a/b", false],
      ["a/b..", false],
      ["a/.../b", false],
      ["", false],
    ] as const)
      expect([n, hasDotDot(Buffer.from(n))]).toEqual([n, want]);
  });
});
