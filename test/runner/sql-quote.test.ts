// The runner quotes SQL names and literals itself (runner/src/pg/sql-quote.ts) so that a run without
// a database does not load node-postgres; the quoting must stay node-postgres's exactly, since it
// is what keeps a recorded name from being read as SQL. Checked against pg's own for any string.
import fc from "fast-check";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { quoteIdentifier, quoteLiteral } from "../../runner/src/pg/sql-quote.js";

const text = fc.oneof(fc.string(), fc.string({ unit: fc.constantFrom("'", '"', "\\", "a", " ", "é", "\u{1F600}") }));

describe("SQL quoting", () => {
  it("quotes identifiers and literals exactly as node-postgres does (property)", () => {
    fc.assert(
      fc.property(text, (s) => {
        expect(quoteIdentifier(s)).toBe(pg.escapeIdentifier(s));
        expect(quoteLiteral(s)).toBe(pg.escapeLiteral(s));
      }),
      { numRuns: 3000 },
    );
  });

  it("doubles quotes and marks backslashes", () => {
    expect(quoteIdentifier('a"b')).toBe('"a""b"');
    expect(quoteLiteral("it's")).toBe("'it''s'");
    expect(quoteLiteral("a\\b")).toBe(" E'a\\\\b'");
  });
});
