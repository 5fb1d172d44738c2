// --path of `files` and `restore --media-only`: how an operator's text becomes name bytes, and
// which names it selects. Generated names (the hostile ones of media-trees.ts, raw bytes, any
// Unicode) must come back exactly from what `files` prints; a prefix is a prefix of components,
// never of bytes.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { quoteName } from "../../runner/src/archive/entry-name.js";
import { PathSelection, parseSelectionPath, underPath } from "../../runner/src/media-store/path-selection.js";
import { nameArb } from "../helpers/media-trees.js";

const SLASH = Buffer.from("/");
const join = (parts: Buffer[]) => Buffer.concat(parts.flatMap((p, i) => (i ? [SLASH, p] : [p])));
const pathArb = fc
  .array(nameArb, { minLength: 1, maxLength: 4 })
  .filter((parts) => !parts.some((p) => p.equals(Buffer.from(".."))));

function bytesOf(arg: string): Buffer {
  const parsed = parseSelectionPath(arg);
  if ("problem" in parsed) throw new Error(parsed.problem);
  return parsed.path;
}

describe("--path: the text an operator gives", () => {
  it("any name, given as `files` prints it (quoted), means exactly its bytes", () => {
    fc.assert(
      fc.property(pathArb, (parts) => {
        const name = join(parts);
        expect(bytesOf(quoteName(name)).equals(name)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it("a plain UTF-8 path means its UTF-8 bytes; ./, // and trailing slashes are the same name", () => {
    expect(bytesOf("docs/2024/report.pdf").toString()).toBe("docs/2024/report.pdf");
    for (const form of ["docs/", "./docs", "docs//", "./docs/./", '"docs/"'])
      expect(bytesOf(form).toString()).toBe("docs");
    expect(bytesOf("docs//a/").toString()).toBe("docs/a");
    expect(bytesOf("café/文档.docx")).toEqual(Buffer.from("café/文档.docx"));
  });

  it("refuses absolute paths, .., the whole folder, NUL and a broken quoted name, saying what to give", () => {
    const problem = (arg: string) => {
      const parsed = parseSelectionPath(arg);
      return "problem" in parsed ? parsed.problem : "";
    };
    expect(problem("/srv/media/docs/a.pdf")).toMatch(/is absolute; give the name below the media folder/);
    expect(problem("//docs")).toMatch(/is absolute/);
    expect(problem("docs/../../etc/passwd")).toMatch(/holds "\.\."/);
    expect(problem("..")).toMatch(/holds "\.\."/);
    expect(problem('"docs/\\056\\056/x"')).toMatch(/holds "\.\."/); // ".." spelled in octal
    for (const whole of ["", ".", "./", "/"]) expect(problem(whole)).not.toBe("");
    expect(problem(".")).toMatch(/names the whole media folder; to restore everything, leave out --path/);
    expect(problem('"a\\000b"')).toMatch(/NUL/);
    expect(problem('"docs/unterminated')).toMatch(/not one quoted name as `files` prints it/);
    expect(problem('"a"b"')).toMatch(/not one quoted name/);
    expect(problem('"\\q"')).toMatch(/not one quoted name/);
  });
});

describe("--path: which names it selects", () => {
  it("a name, or everything below it, by whole components: `doc` is not a prefix of `docs2/`", () => {
    fc.assert(
      fc.property(pathArb, pathArb, (wanted, name) => {
        const sel = new PathSelection([join(wanted)]);
        const byComponents = wanted.length <= name.length && wanted.every((p, i) => p.equals(name[i]!));
        expect(sel.selects(join(name))).toBe(byComponents);
        expect(underPath(join(name), join(wanted))).toBe(byComponents);
        // A folder above the path is not selected, only created.
        if (name.length < wanted.length && name.every((p, i) => p.equals(wanted[i]!)))
          expect(sel.above(join(name))).toBe(true);
      }),
      { numRuns: 1000 },
    );
    const sel = new PathSelection([Buffer.from("doc")]);
    for (const sibling of ["docs", "docs2/a.pdf", "doc.pdf", "doc "])
      expect(sel.selects(Buffer.from(sibling))).toBe(false);
    expect(sel.unmatched()).toEqual(['"doc"']);
    expect(sel.selects(Buffer.from("doc/a.pdf"))).toBe(true);
    expect(sel.unmatched()).toEqual([]);
    expect(new PathSelection([Buffer.from("a/b")]).above(Buffer.from("a"))).toBe(true);
    expect(new PathSelection([Buffer.from("a/b")]).above(Buffer.from("a/b"))).toBe(false);
    expect(new PathSelection([Buffer.from("ab/c")]).above(Buffer.from("a"))).toBe(false);
    const twice = new PathSelection([Buffer.from("a/b"), Buffer.from("a/b"), Buffer.from("c")]);
    expect(twice.selects(Buffer.from("a/b/x"))).toBe(true);
    expect(twice.unmatched()).toEqual(['"c"']);
  });
});
