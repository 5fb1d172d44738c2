// Names from the database in messages (issue 23, item 6): a table name holding a newline or a
// JSON fragment cannot forge a log line, and two different names never print the same.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { missingTableData } from "../../runner/src/commands/verify.js";
import { qualifiedName, safeName } from "../../runner/src/output/format.js";
import { parseArchiveToc } from "../../runner/src/pg/archive-toc.js";
import { rowCountDifferences } from "../../runner/src/pg/row-counts.js";

describe("names in messages", () => {
  it("escape every control character, newlines included, and stay distinct", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), fc.string({ unit: "binary" }), (a, b) => {
        // eslint-disable-next-line no-control-regex -- the point
        expect(safeName(a)).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
        if (a !== b) expect(safeName(a)).not.toBe(safeName(b));
      }),
    );
  });

  it("a row count difference for a table named with a newline is one line", () => {
    const forged = 'x\n{"level":"info","msg":"restore complete"}';
    const problems = rowCountDifferences([{ schema: "app", table: forged, rows: 1 }], []);
    expect(problems).toHaveLength(1);
    expect(problems[0]).not.toContain("\n");
    expect(problems[0]).toContain(qualifiedName("app", forged));
  });

  it("verify matches TOC entries by schema and name, never by splitting text", () => {
    const entries = [
      { dumpId: 1, desc: "TABLE DATA", namespace: "app owner", tag: "t", owner: "a b", tablespace: null },
      { dumpId: 2, desc: "TABLE DATA", namespace: "app", tag: "owner t", owner: "a", tablespace: null },
    ];
    expect(
      missingTableData(entries, [
        { schema: "app owner", table: "t", rows: 1 },
        { schema: "app", table: "owner t", rows: 1 },
        { schema: "app", table: "owner", rows: 1 },
      ]),
    ).toEqual(["app.owner"]);
  });

  it("a dump cut inside its table of contents, or not a dump, is an error", () => {
    expect(() => parseArchiveToc(Buffer.from("PGDMP"))).toThrow();
    expect(() => parseArchiveToc(Buffer.from("-- PostgreSQL database dump\n"))).toThrow(/not a custom-format dump/);
  });
});
