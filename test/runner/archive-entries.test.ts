// The one reader of archive entries (tar's listing with C quoting, and the directory walk) and
// the one judge of them: names read back as the exact bytes, " -> ", " link to " and newlines
// in names never mistaken for syntax, hard links counted alike by tar and by the walk.
import { spawn } from "node:child_process";
import { link, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { inspectDirectory } from "../../runner/src/archive/directory-walk.js";
import { quoteName, readQuoted } from "../../runner/src/archive/entry-name.js";
import { EntryInspector } from "../../runner/src/archive/inspector.js";
import { LISTING_FLAGS, parseListingLine, tarEnv, type ArchiveEntry } from "../../runner/src/archive/listing.js";
import { tarCreateArgs } from "../../runner/src/stages/media-archive.js";
import { HOSTILE_NAMES, materializeTree, mediaTreeArb, nameArb } from "../helpers/media-trees.js";

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});
async function tempDir(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), "edms-entries-"));
  dirs.push(d);
  return d;
}

/** tar's create listing of `dir` (the backup's own arguments), one line per entry. */
async function tarListing(dir: string): Promise<string[]> {
  const child = spawn("tar", tarCreateArgs(dir, "none", 0), { env: tarEnv(), stdio: ["ignore", "pipe", "pipe"] });
  child.stdout.resume(); // the archive itself (not to /dev/null: GNU tar would skip reading)
  let listing = "";
  child.stderr.setEncoding("utf8").on("data", (s: string) => (listing += s));
  const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
  if (code !== 0) throw new Error(`tar exited ${code}: ${listing}`);
  return listing.split("\n").filter(Boolean);
}

const B = (s: string) => Buffer.from(s);

describe("C-quoted names", () => {
  it("read back to the same bytes for any byte string", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const name = Buffer.from(bytes);
        const quoted = quoteName(name);
        expect(quoted).toMatch(/^"[\x20-\x7e]*"$/);
        expect(readQuoted(quoted, 0)).toEqual({ bytes: name, end: quoted.length });
      }),
      { numRuns: 500 },
    );
  });

  it("refuse what tar never prints", () => {
    expect(readQuoted('"open', 0)).toBeUndefined();
    expect(readQuoted('"bad \\q escape"', 0)).toBeUndefined();
    expect(readQuoted('"raw\nnewline"', 0)).toBeUndefined();
    expect(readQuoted('"raw é"', 0)).toBeUndefined();
  });
});

describe("tar's listing lines", () => {
  it("are read into entries whose names and targets are bytes", () => {
    const entry = (line: string) => parseListingLine(line);
    expect(entry('lrwxrwxrwx 0/0               0 2026-11-27 11:42 "./y -> ok" -> "/etc/shadow"')).toEqual({
      type: "l",
      size: 0,
      name: B("./y -> ok"),
      linkTarget: B("/etc/shadow"),
    });
    expect(entry('hrw-r--r-- 0/0               0 2026-11-27 11:42 "./x -> ok" link to "./h link to z"')).toEqual({
      type: "h",
      size: 0,
      name: B("./x -> ok"),
      linkTarget: B("./h link to z"),
    });
    expect(entry('-rw-r--r-- 1000/1000      1234 2200-01-01 00:00 "./nl\\nname\\377\\\\"')).toEqual({
      type: "-",
      size: 1234,
      name: Buffer.concat([B("./nl\nname"), Buffer.from([0xff]), B("\\")]),
    });
    expect(entry('crw-r--r-- root/root       1,3 2026-11-27 11:42 "./dev"')).toMatchObject({ type: "c", size: 0 });
    expect(entry('drwxr-xr-x 0/0               0 2026-11-27 11:42 "./"')).toMatchObject({ type: "d", name: B("./") });
    // Not listing lines: diagnostics, the unquoted (default) style, trailing junk.
    for (const line of [
      'tar: "./sock": socket ignored',
      "-rw-r--r-- 0/0               1 2026-11-27 11:42 ./plain",
      '-rw-r--r-- 0/0               1 2026-11-27 11:42 "./a" junk',
      'lrwxrwxrwx 0/0               0 2026-11-27 11:42 "./a" link to "b"',
    ])
      expect(entry(line)).toBeUndefined();
  });

  it("give back every generated name exactly, as real GNU tar prints it", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(nameArb, { minLength: 1, maxLength: 8, selector: (n) => n.toString("hex") }),
        async (names) => {
          const dir = await tempDir();
          const root = Buffer.from(dir);
          const at = (n: Buffer) => Buffer.concat([root, B("/"), n]);
          const [first, ...rest] = names;
          await writeFile(at(first!), "x");
          // Every other name is a symlink to the first one or a hard link to it, alternately.
          for (const [i, n] of rest.entries()) {
            if (i % 2) await link(at(first!), at(n));
            else await symlink(first!, at(n));
          }
          const entries = (await tarListing(dir)).map((line) => {
            const e = parseListingLine(line);
            if (!e) throw new Error(`unreadable listing line: ${JSON.stringify(line)}`);
            return e;
          });
          const dotSlash = (n: Buffer) => Buffer.concat([B("./"), n]);
          const seen = new Map(entries.map((e) => [e.name.toString("hex"), e]));
          for (const n of names) {
            const e = seen.get(dotSlash(n).toString("hex"));
            expect(e, `entry for ${quoteName(n)}`).toBeDefined();
            if (e!.type === "l") expect(e!.linkTarget).toEqual(first);
          }
          expect(entries).toHaveLength(names.length + 1); // and the root
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe("the entry inspector", () => {
  const judge = (entries: ArchiveEntry[]) => {
    const inspector = new EntryInspector();
    for (const e of entries) inspector.add(e);
    return inspector;
  };

  it("refuses links that leave the folder, whatever their names look like", () => {
    const i = judge([
      { type: "l", size: 0, name: B("./x -> ok"), linkTarget: B("/etc/shadow") },
      { type: "l", size: 0, name: B("./sub/up"), linkTarget: B("../../etc") },
      { type: "h", size: 0, name: B("./a link to b"), linkTarget: B("../outside") },
      { type: "-", size: 1, name: B("../escape") },
      { type: "-", size: 1, name: B("/abs") },
      { type: "c", size: 0, name: B("./null") },
    ]);
    expect(i.unsafe).toEqual([
      '"./x -> ok": link to the absolute path "/etc/shadow"',
      '"./sub/up": link to "../../etc" points outside the folder',
      '"./a link to b": link to "../outside" points outside the folder',
      '"../escape": contains ".."',
      '"/abs": absolute path',
    ]);
    expect(i.unsafeCount).toBe(6);
    expect(i.unsafeSummary()).toMatch(/\(and 1 more\)$/);
  });

  it("refuses anything written through a symlink, and accepts links that stay inside", () => {
    const i = judge([
      { type: "l", size: 0, name: B("./d"), linkTarget: B("sub") },
      { type: "l", size: 0, name: B("./sub/back"), linkTarget: B("../d/../x") },
      { type: "-", size: 3, name: B("./d/evil") },
      { type: "h", size: 0, name: B("./h"), linkTarget: B("./d/evil") },
    ]);
    expect(i.unsafe).toEqual(['"./d/evil": inside the symlink "d"', '"./h": hard link through the symlink "d"']);
  });

  it("counts a hard link as a file without its bytes, and a hard link to a symlink as neither", () => {
    const i = judge([
      { type: "d", size: 0, name: B("./") },
      { type: "-", size: 10, name: B("./a") },
      { type: "h", size: 0, name: B("./b"), linkTarget: B("./a") },
      { type: "l", size: 0, name: B("./l"), linkTarget: B("a") },
      { type: "h", size: 0, name: B("./l2"), linkTarget: B("./l") },
      { type: "p", size: 0, name: B("./fifo") },
    ]);
    expect(i.tally).toEqual({ files: 2, sourceBytes: 10 });
    expect(i.unsafeCount).toBe(0);
  });

  it("tells a backup about each unsafe entry as it is listed, so the run can stop at once", () => {
    const heard: string[] = [];
    const i = new EntryInspector({ onUnsafe: (problem) => heard.push(problem) });
    i.line('-rw-r--r-- 0/0               1 2026-11-27 11:42 "./fine"');
    expect(heard).toEqual([]);
    i.line('lrwxrwxrwx 0/0               0 2026-11-27 11:42 "./late" -> "../../etc"');
    expect(heard).toEqual(['"./late": link to "../../etc" points outside the folder']);
  });

  it("counts an unreadable listing line as a problem, not as nothing", () => {
    const i = new EntryInspector();
    i.line("-rw-r--r-- 0/0 1 2026-11-27 11:42 ./unquoted name");
    i.line("tar: ./x: file changed as we read it");
    i.line("");
    expect(i.unreadableCount).toBe(1);
  });
});

describe("tar's listing and the directory walk", () => {
  it("agree on files, bytes and safety for generated trees (hard links, hostile names, links inside)", async () => {
    await fc.assert(
      fc.asyncProperty(mediaTreeArb, async (tree) => {
        const dir = await tempDir();
        await materializeTree(dir, tree);
        const fromTar = new EntryInspector();
        for (const line of await tarListing(dir)) fromTar.line(line);
        const walked = await inspectDirectory(dir);
        expect(fromTar.unreadable).toEqual([]);
        expect(fromTar.unsafe).toEqual([]);
        expect(walked.unsafe).toEqual([]);
        expect(walked.tally).toEqual(fromTar.tally);
      }),
      { numRuns: 40 },
    );
  });

  it("walks names that are not UTF-8 and finds a link that leaves the folder by its bytes", async () => {
    const dir = await tempDir();
    const root = Buffer.from(dir);
    const bad = Buffer.from([0xff, 0xfe, 0x41]);
    await writeFile(Buffer.concat([root, B("/"), bad]), "12345");
    await link(Buffer.concat([root, B("/"), bad]), path.join(dir, "second name"));
    await symlink("/etc/shadow", path.join(dir, "x -> ok"));
    const walked = await inspectDirectory(dir);
    expect(walked.tally).toEqual({ files: 2, sourceBytes: 5 });
    expect(walked.unsafe).toEqual(['"x -> ok": link to the absolute path "/etc/shadow"']);
    expect(HOSTILE_NAMES.length).toBeGreaterThan(20);
  });

  it("lists with the flags that make names unambiguous", () => {
    expect(tarCreateArgs("/m", "none", 0)).toEqual(expect.arrayContaining([...LISTING_FLAGS]));
    expect(tarEnv({ LANG: "C.UTF-8" }).LC_ALL).toBe("C");
  });
});
