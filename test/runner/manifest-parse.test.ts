// A manifest that is not of its format is refused with a message naming the field.
import { describe, expect, it } from "vitest";
import { parseManifest } from "../../runner/src/catalog/manifest.js";

describe("manifest", () => {
  it("rejects a manifest that is not of the format", () => {
    expect(() => parseManifest("{", "x")).toThrow(/not valid JSON/);
    expect(() => parseManifest(JSON.stringify({ formatVersion: 1, backupId: "a" }), "x")).toThrow(
      /does not match format 1: tier/,
    );
  });
});
