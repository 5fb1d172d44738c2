// The pure parts of the database <-> media reference check: the MEDIA_REFERENCES syntax (hostile
// names quoted as in SQL), path normalisation and byte comparison, the drill's "newly missing"
// rule, tar listing names decoded back to the exact bytes (checked against real GNU tar with
// generated names), and Django migration drift.
import { mkdtemp, rm, symlink, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatMediaReferences, parseMediaReferences, runnerEnvSchema } from "../../runner/src/contract.js";
import {
  compareReferences,
  displayMediaPath,
  MAX_MISSING_PATHS,
  newlyMissing,
  PathSet,
  pathKey,
} from "../../runner/src/references/media-paths.js";
import { describeDrift, migrationDrift } from "../../runner/src/references/migrations.js";
import { inspectDirectory } from "../../runner/src/archive/directory-walk.js";
import { EntryInspector } from "../../runner/src/archive/inspector.js";
import { LISTING_FLAGS } from "../../runner/src/archive/listing.js";
import { run } from "../helpers/exec.js";

const set = (...paths: (string | Buffer)[]) => {
  const s = new PathSet();
  for (const p of paths) s.add(typeof p === "string" ? Buffer.from(p) : p);
  return s;
};

describe("MEDIA_REFERENCES syntax", () => {
  it.each([
    ["documents_document.file", [{ table: "documents_document", column: "file" }]],
    [
      " public.a.b , x.y ",
      [
        { schema: "public", table: "a", column: "b" },
        { table: "x", column: "y" },
      ],
    ],
    ['"my.table"."co,l"', [{ table: "my.table", column: "co,l" }]],
    ['"a""b"."c d"', [{ table: 'a"b', column: "c d" }]],
    ['"Robert\'); drop table students;--".file', [{ table: "Robert'); drop table students;--", column: "file" }]],
    ["Docs.File", [{ table: "Docs", column: "File" }]],
  ])("%s parses", (text, columns) => {
    expect(parseMediaReferences(text)).toEqual({ columns, problems: [] });
  });

  it.each([
    ["a", /"a": 1 name/],
    ["a.b.c.d", /"a.b.c.d": 4 names/],
    ["a..b", /empty name/],
    ['"a.b', /unterminated double quote/],
    ["a b.c", /needs double quotes/],
    ['"a"b".c', /stray double quote|unterminated/],
    ["a.b,", /"": empty name/],
  ])("%s is refused, naming the entry", (text, problem) => {
    const parsed = parseMediaReferences(text);
    expect(parsed.columns.length === 0 || parsed.problems.length > 0).toBe(true);
    expect(parsed.problems.join("\n")).toMatch(problem);
  });

  it("every problem at once through the contract (exit 2 material)", () => {
    const result = runnerEnvSchema.safeParse({ MEDIA_REFERENCES: "a,b.c,d..e" });
    expect(result.success).toBe(false);
    expect(result.error!.issues.map((i) => i.message)).toEqual([
      expect.stringMatching(/^"a": 1 name/),
      expect.stringMatching(/^"d..e": empty name/),
    ]);
  });

  it("format and parse round-trip any names (property)", () => {
    const name = fc.string({ minLength: 1, maxLength: 12, unit: "binary" }).filter((s) => !s.includes("\0"));
    fc.assert(
      fc.property(
        fc.array(fc.record({ schema: fc.option(name, { nil: undefined }), table: name, column: name }), {
          minLength: 1,
          maxLength: 4,
        }),
        (columns) => {
          const clean = columns.map((c) => (c.schema === undefined ? { table: c.table, column: c.column } : c));
          expect(parseMediaReferences(formatMediaReferences(clean))).toEqual({ columns: clean, problems: [] });
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("path comparison", () => {
  it("normalises leading ./ and slashes only", () => {
    for (const p of ["a/b", "./a/b", "/a/b", "//./a/b", "././a/b"]) expect(pathKey(Buffer.from(p))).toBe("a/b");
    expect(pathKey(Buffer.from("a/./b"))).toBe("a/./b");
    expect(pathKey(Buffer.from(".a"))).toBe(".a");
    expect(pathKey(Buffer.from("./"))).toBe("");
  });

  it("compares names as bytes: NFC and NFD differ, invalid UTF-8 matches exactly", () => {
    const nfc = "caf\u00e9.pdf";
    const nfd = "cafe\u0301.pdf";
    const bad = Buffer.from([0x62, 0xff, 0x2e, 0x70]);
    const result = compareReferences(
      set(nfc, bad, "./x", ""),
      set(`./${nfd}`, Buffer.concat([Buffer.from("./"), bad]), "x", "y"),
    );
    expect(result).toMatchObject({ referenced: 3, missing: 1, missingPaths: [nfc], unreferenced: 2 });
  });

  it("keeps the first 100 missing paths in byte order and counts them all", () => {
    const names = Array.from({ length: 250 }, (_, i) => `f${String(i).padStart(3, "0")}`).reverse();
    const result = compareReferences(set(...names), set());
    expect(result.missing).toBe(250);
    expect(result.missingPaths).toHaveLength(MAX_MISSING_PATHS);
    expect(result.missingPaths[0]).toBe("f000");
    expect(result.missingPaths.at(-1)).toBe("f099");
  });

  it("shows invalid UTF-8 with \\x escapes", () => {
    expect(displayMediaPath(pathKey(Buffer.from([0x61, 0xff, 0x5c])))).toBe("a\\xff\\\\");
  });

  it("the drill fails only on paths the backup did not record", () => {
    const missing = (...p: string[]) => compareReferences(set(...p), set()).allMissing;
    const recorded = { missing: 2, missingPaths: ["a", "b"] };
    expect(newlyMissing(recorded, missing("a", "b"))).toEqual({ paths: [], count: 0 });
    expect(newlyMissing(recorded, missing("a", "c"))).toEqual({ paths: ["c"], count: 1 });
    // Truncated record (5 missing, 2 listed): "aa" sorts before "b" so it must have been listed.
    const truncated = { missing: 5, missingPaths: ["a", "b"] };
    expect(newlyMissing(truncated, missing("a", "aa", "b", "x", "y", "z"))).toEqual({ paths: ["aa"], count: 1 });
    expect(newlyMissing(truncated, missing("a", "b", "x", "y", "z"))).toEqual({ paths: [], count: 0 });
    expect(newlyMissing(truncated, missing("a", "b", "w", "x", "y", "z")).count).toBe(1);
  });
});

describe("archive and folder names as bytes", () => {
  // Any byte but NUL and "/" can be in a file name; tar escapes what the locale cannot print.
  const nameBytes = fc
    .uint8Array({ minLength: 1, maxLength: 40 })
    .map((a) => Buffer.from(a.filter((b) => b !== 0 && b !== 0x2f)))
    .filter((b) => b.length > 0 && b.toString("latin1") !== "." && b.toString("latin1") !== "..");
  const tricky = fc.constantFrom(
    ...[
      "a -> b",
      "x link to y",
      "back\\slash",
      "new\nline",
      "tab\t",
      "caf\u00e9",
      "cafe\u0301",
      " lead",
      "-dash",
      "\\012",
    ].map((s) => Buffer.from(s)),
  );

  it("GNU tar's listing decodes back to the exact names (property, real tar)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.oneof(nameBytes, tricky), {
          minLength: 1,
          maxLength: 12,
          selector: (b) => b.toString("latin1"),
        }),
        async (names) => {
          const dir = await mkdtemp(path.join(tmpdir(), "edms-refnames-"));
          try {
            await mkdir(Buffer.concat([Buffer.from(dir), Buffer.from("/sub")]));
            for (const n of names) await writeFile(Buffer.concat([Buffer.from(dir), Buffer.from("/sub/"), n]), "x");
            await symlink("sub", path.join(dir, "link"));
            // The runner's own listing flags; the C locale is what the runner sets (tarEnv), the
            // UTF-8 one shows that a different locale would not go unnoticed silently.
            const listing = await run(
              "sh",
              ["-c", `tar -cf - ${LISTING_FLAGS.join(" ")} -C "$1" . 2>&1 >/dev/null | cat`, "sh", dir],
              { env: { ...process.env, LC_ALL: "C" } },
            );
            expect(listing.code).toBe(0);
            const decoded = new PathSet();
            const inspector = new EntryInspector({ onFile: (name) => decoded.add(name) });
            for (const line of listing.stdout.split("\n")) inspector.line(line);
            expect(inspector.unreadable).toEqual([]);
            const expected = set(...names.map((n) => Buffer.concat([Buffer.from("sub/"), n])));
            expect([...decoded.keys].sort()).toEqual([...expected.keys].sort());
            const walked = new PathSet();
            await inspectDirectory(dir, { onFile: (name) => walked.add(name) });
            expect([...walked.keys].sort()).toEqual(
              [...set(...names.map((n) => Buffer.concat([Buffer.from("sub/"), n]))).keys].sort(),
            );
          } finally {
            await rm(dir, { recursive: true, force: true });
          }
        },
      ),
      { numRuns: Number(process.env.PROPERTY_RUNS ?? 15) },
    );
  });
});

describe("Django migration drift", () => {
  const live = new Map([
    ["documents", ["0001_initial", "0002_file", "0003_thumbnail"]],
    ["auth", ["0001_initial"]],
    ["newapp", ["0001_initial"]],
  ]);
  it("names the apps the backup is behind and ahead of", () => {
    const drift = migrationDrift({ documents: "0001_initial", auth: "0002_permissions", gone: "0001_initial" }, live);
    expect(drift).toEqual({
      behind: [
        { app: "documents", migrations: ["0002_file", "0003_thumbnail"] },
        { app: "newapp", migrations: ["0001_initial"] },
      ],
      ahead: [
        { app: "auth", migration: "0002_permissions" },
        { app: "gone", migration: "0001_initial" },
      ],
    });
    const text = describeDrift(drift).join("\n");
    expect(text).toContain("the backup predates migrations documents: 0002_file, 0003_thumbnail; newapp: 0001_initial");
    expect(text).toContain("ahead of the live database for auth (0002_permissions), gone (0001_initial)");
  });
  it("says nothing when they agree", () => {
    expect(migrationDrift({ documents: "0003_thumbnail", auth: "0001_initial", newapp: "0001_initial" }, live)).toEqual(
      {
        behind: [],
        ahead: [],
      },
    );
  });
});
