// Fitting output to a width (issue 26 item 10), over generated input: a wrapped line has no row
// wider than the width (as the terminal measures it: string-width), keeps every word in order and
// breaks only between words (but for a word longer than a row); the `list` table fitted to any
// width from 40 columns on has no line wider than it and still names every set; unfitted, it is
// the full table.
import fc from "fast-check";
import stringWidth from "string-width";
import { describe, expect, it } from "vitest";
import { renderListTable, type ListEntry } from "../../runner/src/commands/list.js";
import { outputWidth, WRAP_INDENT, wrapLine } from "../../runner/src/output/fit-width.js";

const word = fc.stringMatching(/^[A-Za-z0-9/._:()-]{1,30}$/);
const line = fc.array(word, { minLength: 1, maxLength: 40 }).map((words) => words.join(" "));

describe("wrapLine", () => {
  it("fits every row, keeps the words in order, and leaves a line that fits alone", () => {
    fc.assert(
      fc.property(line, fc.integer({ min: 40, max: 200 }), (text, width) => {
        const rows = wrapLine(text, width).split("\n");
        for (const row of rows) expect(stringWidth(row)).toBeLessThanOrEqual(width);
        if (stringWidth(text) <= width) expect(rows).toEqual([text]);
        rows.slice(1).forEach((row) => expect(row.startsWith(" ".repeat(WRAP_INDENT))).toBe(true));
        // An indented line's continuation rows sit further in than the line itself.
        const nested = wrapLine(`  ${text}`, width).split("\n");
        for (const row of nested) expect(stringWidth(row)).toBeLessThanOrEqual(width);
        nested.slice(1).forEach((row) => expect(row.startsWith(" ".repeat(2 + WRAP_INDENT))).toBe(true));
        // Only between words: the rows, joined by spaces, are the words again (no word split
        // unless it is longer than a row, which the generator's 30 characters never are).
        expect(
          rows
            .map((r) => r.trim())
            .join(" ")
            .split(/\s+/),
        ).toEqual(text.split(" "));
      }),
    );
  });

  it("measures what the terminal shows: colour sequences take no room", () => {
    const colored = `\u001b[33mWARN\u001b[39m: ${"word ".repeat(30).trim()}`;
    for (const row of wrapLine(colored, 60).split("\n")) expect(stringWidth(row)).toBeLessThanOrEqual(60);
  });
});

describe("outputWidth", () => {
  it("is COLUMNS when set, the terminal's otherwise, and nothing off a terminal", () => {
    const pipe = { isTTY: false } as unknown as NodeJS.WritableStream;
    const tty = { isTTY: true, columns: 97 } as unknown as NodeJS.WritableStream;
    expect(outputWidth(pipe, {})).toBeUndefined();
    expect(outputWidth(tty, {})).toBe(97);
    expect(outputWidth(pipe, { COLUMNS: "80" })).toBe(80);
    expect(outputWidth(tty, { COLUMNS: "120" })).toBe(120);
    for (const bad of ["", "0", "-3", "80px", "1e2"]) expect(outputWidth(pipe, { COLUMNS: bad })).toBeUndefined();
  });
});

const entry: fc.Arbitrary<ListEntry> = fc.record({
  backupId: fc.stringMatching(/^20\d{6}T\d{6}Z-[0-9a-f]{4,6}$/),
  tier: fc.constantFrom("daily", "weekly", "monthly", "adhoc"),
  createdAt: fc.constant("2026-01-11T02:00:00.000Z"),
  finishedAt: fc.constant("2026-01-11T02:10:00.000Z"),
  durationSeconds: fc.option(fc.integer({ min: 0, max: 90_000 }), { nil: null }),
  bytes: fc.integer({ min: 0, max: 2 ** 44 }),
  complete: fc.boolean(),
  datedInFuture: fc.boolean(),
  latest: fc.boolean(),
  newestOfTier: fc.boolean(),
  problem: fc.option(fc.constantFrom("no manifest", "manifest does not parse: unexpected token"), { nil: undefined }),
  trigger: fc.constant(null),
  database: fc.option(
    fc.record({
      bytes: fc.nat(),
      tables: fc.nat({ max: 5000 }),
      warnings: fc.option(fc.nat({ max: 50 }), { nil: null }),
    }),
    { nil: null },
  ),
  media: fc.option(fc.record({ bytes: fc.nat(), files: fc.nat({ max: 10_000_000 }) }), { nil: null }),
  missingMediaFiles: fc.option(fc.nat({ max: 100_000 }), { nil: null }),
  appVersion: fc.constant(null),
}) as fc.Arbitrary<ListEntry>;

describe("the list table", () => {
  it("fitted to a width has no wider line and names every set; unfitted it is the full table", () => {
    fc.assert(
      fc.property(
        fc.array(entry, { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 40, max: 240 }),
        (entries, width) => {
          const table = renderListTable(entries, "s3://bucket/edms", width);
          for (const l of table.split("\n")) expect(stringWidth(l), l).toBeLessThanOrEqual(width);
          for (const e of entries) expect(table).toContain(e.backupId);
          const full = renderListTable(entries, "s3://bucket/edms");
          expect(full).toContain("STARTED (UTC)");
          if (full.split("\n").every((l) => l.length <= width)) expect(table).toBe(full);
        },
      ),
    );
  });
});
