// The raw-line prefilter of `restore --path` and `files --path` (issue 22: one file out of a
// 50,000-file set in <= 2 s): it may let through lines nobody needs, but it must never skip a line
// whose entry the selection writes (selected, a folder above a path, the root). Checked against the
// full parse: every generated name is written as the backup writes it, parsed, and asked of
// PathSelection. Names come from a few bytes so that many share base64 prefixes, and paths are
// cut from the names at every byte (a path inside a component, ending on a multiple of 3 or not).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { components, joinComponents } from "../../runner/src/archive/entry-name.js";
import { LinePrefilter } from "../../runner/src/media-store/line-prefilter.js";
import { entryLine, parseEntryLine, type IndexEntry } from "../../runner/src/media-store/media-index.js";
import { PathSelection } from "../../runner/src/media-store/path-selection.js";

const componentArb = fc
  .uint8Array({ minLength: 1, maxLength: 7 })
  .map((bytes) => Buffer.from(Array.from(bytes, (b) => [0x61, 0x62, 0x2e, 0xc3, 0xa9, 0x0a, 0xfb, 0xff][b % 8]!)))
  .filter((c) => !c.equals(Buffer.from(".")) && !c.equals(Buffer.from("..")));
const nameArb = fc.array(componentArb, { minLength: 1, maxLength: 4 }).map(joinComponents);

function entry(name: Buffer, i: number): IndexEntry {
  const base = { name, mode: 0o644, uid: 0, gid: 0, mtimeNs: 1_700_000_000_123_456_789n };
  return i % 2
    ? { ...base, type: "dir" }
    : {
        ...base,
        type: "file",
        size: 3,
        sha256: "a".repeat(64),
        object: `store/objects/aa/${"b".repeat(64)}`,
        objectBytes: 3,
      };
}

/** What the full parse says the restore needs: the root, a selected entry, a folder above a path. */
function needed(line: string, selection: PathSelection): boolean {
  const e = parseEntryLine(line, "index", 2);
  return e.name.length === 0 || selection.selects(e.name) || selection.above(e.name);
}

/** A path cut from a name at byte `cut`, as parseSelectionPath would give it (canonical, not empty). */
function pathFrom(name: Buffer, cut: number): Buffer | undefined {
  const p = joinComponents(components(name.subarray(0, Math.max(1, cut))));
  return p.length ? p : undefined;
}

describe("LinePrefilter: which index lines a --path selection may need", () => {
  it("never skips a line the full parse says is selected, above a path or the root (property)", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(nameArb, { minLength: 1, maxLength: 40, selector: (b) => b.toString("latin1") }),
        fc.array(fc.tuple(fc.nat(), fc.nat()), { minLength: 1, maxLength: 4 }),
        fc.array(nameArb, { maxLength: 2 }),
        (names, cuts, unrelated) => {
          const paths = [
            ...cuts.map(([n, c]) => pathFrom(names[n % names.length]!, c % (names[n % names.length]!.length + 1))),
            ...unrelated,
          ].filter((p): p is Buffer => p !== undefined);
          const selection = new PathSelection(paths);
          const prefilter = new LinePrefilter(paths);
          for (const [i, name] of [Buffer.alloc(0), ...names].entries()) {
            const line = entryLine(entry(name, i)).trimEnd();
            if (needed(line, selection)) expect(prefilter.mayNeed(line), JSON.stringify(line)).toBe(true);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("skips the lines of other names, and parses every line not shaped as the writer writes it", () => {
    const names = ["d1", "d1/doc-1.pdf", "d1/doc-1.pdfx", "d1/doc-10.pdf", "d10", "d10/doc-1.pdf", "d2"];
    const lines = names.map((n, i) => entryLine(entry(Buffer.from(n), i)).trimEnd());
    const prefilter = new LinePrefilter([Buffer.from("d1/doc-1.pdf")]);
    // "d1/doc-1.pdf" is 12 bytes (a multiple of 3), so its whole base64 is the prefix: its own line
    // and "d1/doc-1.pdfx" (parsed, then PathSelection says no) pass, with "d1", the folder above;
    // "d1/doc-10.pdf", d10 and d2 are skipped unparsed.
    const passed = lines.filter((l) => prefilter.mayNeed(l));
    expect(passed.map((l) => parseEntryLine(l, "index", 2).name.toString())).toEqual([
      "d1",
      "d1/doc-1.pdf",
      "d1/doc-1.pdfx",
    ]);
    const root = entryLine(entry(Buffer.alloc(0), 1)).trimEnd();
    expect(prefilter.mayNeed(root)).toBe(true);
    const other = lines[5]!;
    const wanted = Buffer.from("d1/doc-1.pdf").toString("base64");
    for (const odd of [
      other.replace('{"path"', '{ "path"'), // another spelling of the same JSON
      other.replace('"type"', `"path":"${wanted}","type"`), // a second path key: JSON.parse keeps it
      other.replace(
        /^\{"path":"([^"]*)"/,
        (_, b64: string) => `{"path":"\\u00${b64.charCodeAt(0).toString(16)}${b64.slice(1)}"`,
      ),
      "not json at all",
      "",
    ])
      expect(prefilter.mayNeed(odd), odd).toBe(true);
    expect(prefilter.mayNeed(other)).toBe(false);
  });
});
