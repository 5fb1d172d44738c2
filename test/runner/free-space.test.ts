// The free-space rule before a media restore stages anything, as a table of cases.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { spaceVerdict } from "../../runner/src/restore/free-space.js";

const MiB = 1024 * 1024;

describe("space verdict", () => {
  it.each([
    // available, blockSize, files, sourceBytes, keptBytes, fits, stagingBytes
    [100 * MiB, 4096, 10, 50 * MiB, 0, true, 50 * MiB + 10 * 4096],
    [50 * MiB, 4096, 10, 50 * MiB, 0, false, 50 * MiB + 10 * 4096],
    [50 * MiB + 10 * 4096, 4096, 10, 50 * MiB, 0, true, 50 * MiB + 10 * 4096],
    // Many tiny files: the block rounding dominates.
    [1 * MiB, 4096, 1000, 1000, 0, false, 1000 + 1000 * 4096],
    // A kept previous folder is already on the volume: it is reported, not added.
    [100 * MiB, 4096, 10, 50 * MiB, 80 * MiB, true, 50 * MiB + 10 * 4096],
    [0, 4096, 0, 0, 0, true, 0],
    [0, 4096, 1, 0, 0, false, 4096],
  ])(
    "available %d, block %d, %d files of %d bytes, kept %d: fits=%s",
    (available, blockSize, files, sourceBytes, keptBytes, fits, staging) => {
      const verdict = spaceVerdict({ available, blockSize, files, sourceBytes, keptBytes });
      expect(verdict.fits).toBe(fits);
      expect(verdict.stagingBytes).toBe(staging);
      if (!fits) expect(verdict.message).toMatch(/^not enough space for the staging copy/);
      if (keptBytes) expect(verdict.message).toContain("stays on the volume as the kept previous copy");
    },
  );
});

describe("space verdict, inodes", () => {
  it("fits only when bytes fit and, on a filesystem with an inode limit, files + 1 inodes are free", () => {
    fc.assert(
      fc.property(
        fc.nat(10_000),
        fc.nat(10_000),
        fc.nat(10_000),
        fc.boolean(),
        (files, availableInodes, totalExtra, limited) => {
          const totalInodes = limited ? availableInodes + totalExtra + 1 : 0;
          const v = spaceVerdict({
            available: 1e12,
            blockSize: 4096,
            files,
            sourceBytes: files,
            keptBytes: 0,
            availableInodes,
            totalInodes,
          });
          expect(v.fits).toBe(!limited || files + 1 <= availableInodes);
          if (!v.fits) expect(v.message).toMatch(/^no space for the staging copy: it needs at least \d+ free inodes/);
        },
      ),
    );
  });
});
