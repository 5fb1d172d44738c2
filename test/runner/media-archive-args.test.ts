// tar's arguments for the media archive: the chosen compression program.
import { describe, expect, it } from "vitest";
import { tarCreateArgs } from "../../runner/src/stages/media-archive.js";

describe("tar listing", () => {
  it("compresses with the chosen program", () => {
    expect(tarCreateArgs("/media", "zstd", 3)).toContain("--use-compress-program=zstd -q --single-thread -3");
    expect(tarCreateArgs("/media", "none", 0).some((a) => a.startsWith("--use-compress-program"))).toBe(false);
  });
});
