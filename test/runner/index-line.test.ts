// The media index's lines and the stat cache's records are built by hand (entryLine, recordLine)
// for speed, and a segment's chunks are named from their bytes: a line that came out differently
// from the JSON.stringify form earlier runners wrote would make every unchanged segment of the next
// backup new chunks (the set's whole metadata stored again). Checked against that form for any
// entry and record, and read back by the parsers.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ENTRY_TYPES,
  entryLine,
  fileEntryLine,
  parseEntryLine,
  type IndexEntry,
} from "../../runner/src/media-store/media-index.js";
import { storeObjectKey } from "../../runner/src/contract.js";
import { Readable } from "node:stream";
import type { Logger } from "../../runner/src/output/logger.js";
import { StatCacheCursor, recordLine, type StatRecord } from "../../runner/src/media-store/stat-cache.js";

/** The line as runners before the hand-built one wrote it. */
const stringified = (e: IndexEntry) =>
  `${JSON.stringify({
    path: e.name.toString("base64"),
    type: e.type,
    mode: e.mode,
    uid: e.uid,
    gid: e.gid,
    mtimeNs: e.mtimeNs.toString(),
    size: e.size,
    sha256: e.sha256,
    object: e.object,
    objectBytes: e.objectBytes,
    target: e.target?.toString("base64"),
  })}\n`;

const bytes = fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b));
const nat = fc.nat({ max: Number.MAX_SAFE_INTEGER });
const entryArb: fc.Arbitrary<IndexEntry> = fc.record(
  {
    name: bytes,
    type: fc.constantFrom(...ENTRY_TYPES),
    mode: fc.nat({ max: 0o7777 }),
    uid: nat,
    gid: nat,
    mtimeNs: fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n }),
    size: nat,
    sha256: fc.stringMatching(/^[0-9a-f]{64}$/),
    object: fc.string(),
    objectBytes: nat,
    target: bytes,
  },
  { requiredKeys: ["name", "type", "mode", "uid", "gid", "mtimeNs"] },
);

describe("entryLine", () => {
  it("writes exactly the JSON.stringify form, absent fields left out (property)", () => {
    fc.assert(
      fc.property(entryArb, (e) => {
        expect(entryLine(e)).toBe(stringified(e));
      }),
      { numRuns: 2000 },
    );
  });

  it("fileEntryLine writes a regular file's line exactly as entryLine does (property)", () => {
    fc.assert(
      fc.property(entryArb, fc.stringMatching(/^[0-9a-f]{64}$/), fc.boolean(), (e, name, age) => {
        const object = storeObjectKey(name, age);
        const { size = 0, sha256 = "0".repeat(64), objectBytes = 0 } = e;
        const line = fileEntryLine(e, size, sha256, object, objectBytes);
        expect(line).toBe(entryLine({ ...e, type: "file", size, sha256, object, objectBytes, target: undefined }));
      }),
      { numRuns: 2000 },
    );
  });

  it("reads back through the parser: a file and a symlink", () => {
    const file: IndexEntry = {
      name: Buffer.from([0x61, 0x0a, 0xff]),
      type: "file",
      mode: 0o644,
      uid: 1000,
      gid: 1000,
      mtimeNs: 1_700_000_000_123_456_789n,
      size: 3,
      sha256: "a".repeat(64),
      object: `store/objects/bb/${"b".repeat(64)}.age`,
      objectBytes: 250,
    };
    const link: IndexEntry = {
      ...file,
      type: "symlink",
      size: undefined,
      sha256: undefined,
      object: undefined,
      objectBytes: undefined,
      target: Buffer.from("../x"),
    };
    for (const e of [file, link]) {
      const back = parseEntryLine(entryLine(e).trimEnd(), "index", 2);
      expect(back).toEqual({ ...e, target: e.target });
    }
  });
});

/** The record line as runners before the hand-built one wrote it. */
const stringifiedRecord = (r: StatRecord) => {
  const fields = [r.name.toString("base64"), `${r.size}`, `${r.mtimeNs}`, `${r.ctimeNs}`, `${r.ino}`, r.sha256];
  if (r.lockUntilMs !== undefined) fields.push(`${r.lockUntilMs}`);
  return `${JSON.stringify(fields)}\n`;
};

const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
const recordArb: fc.Arbitrary<StatRecord> = fc.record(
  {
    name: bytes,
    size: u64,
    mtimeNs: fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n }),
    ctimeNs: fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n }),
    ino: u64,
    sha256: fc.stringMatching(/^[0-9a-f]{64}$/),
    lockUntilMs: fc.nat({ max: 10 ** 15 - 1 }),
  },
  { requiredKeys: ["name", "size", "mtimeNs", "ctimeNs", "ino", "sha256"] },
);

describe("recordLine", () => {
  it("writes exactly the JSON.stringify form, the lock date only when known (property)", () => {
    fc.assert(
      fc.property(recordArb, (r) => {
        expect(recordLine(r)).toBe(stringifiedRecord(r));
      }),
      { numRuns: 2000 },
    );
  });

  it("a record read back from a cache writes the line it was read from; dropping its lock date writes the line without it (property)", async () => {
    const log = { warn: () => undefined } as unknown as Logger;
    await fc.assert(
      fc.asyncProperty(recordArb, async (r) => {
        const cursor = new StatCacheCursor(Readable.from([Buffer.from(recordLine(r), "latin1")]), log);
        const back = (await cursor.lookup(r.name))!;
        expect(recordLine(back)).toBe(stringifiedRecord(r));
        // What store-writer.ts does with an unchanged file's record when no retention is kept.
        expect(recordLine({ ...back, lockUntilMs: undefined })).toBe(
          stringifiedRecord({ ...r, lockUntilMs: undefined }),
        );
      }),
      { numRuns: 1000 },
    );
  });
});
