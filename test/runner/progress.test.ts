// The live progress area and the readable log view, as pure pieces: whatever is printed through
// the area, in whatever order with redraws in between, a terminal emulator ends up showing every
// log line once, in order, above the area's last frame, and no progress line ever wraps.
import { PassThrough } from "node:stream";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { printable } from "../../runner/src/output/format.js";
import { createLogger, readableFields } from "../../runner/src/output/logger.js";
import { fitWidth, LiveArea, openLiveArea, renderLine, startProgress } from "../../runner/src/output/progress.js";
import { renderScreen } from "../helpers/terminal.js";

/**
 * A stream that says it is a terminal of `columns` and keeps what was written; `output()` turns
 * "\n" into "\r\n" as a terminal's line discipline does (onlcr) before the emulator sees it.
 */
function fakeTty(columns: number): NodeJS.WriteStream & { output: () => string } {
  const stream = new PassThrough() as unknown as NodeJS.WriteStream & { output: () => string };
  let text = "";
  stream.write = ((chunk: string | Uint8Array) => ((text += String(chunk)), true)) as typeof stream.write;
  Object.assign(stream, { isTTY: true, columns, output: () => text.replace(/\n/g, "\r\n") });
  return stream;
}

const lineState = fc.record({
  name: fc.constantFrom("database", "media"),
  stage: fc.constantFrom("pg_dump", "tar+zstd", "stored", "pg_restore", "extract", "verified"),
  done: fc.nat({ max: 2 ** 45 }),
  total: fc.option(fc.integer({ min: 1, max: 2 ** 45 }), { nil: undefined }),
  elapsedMs: fc.nat({ max: 10 * 86_400_000 }),
});

describe("progress lines", () => {
  it("never exceed the width they are given, whatever the numbers", () => {
    fc.assert(
      fc.property(lineState, fc.integer({ min: 20, max: 300 }), (state, width) => {
        const line = renderLine(state, width);
        expect([...line].length).toBeLessThanOrEqual(width);
        expect(line).not.toMatch(/[\r\n\u001b]/);
        expect(line.startsWith(state.name)).toBe(true);
      }),
    );
  });

  it("show a bar of the same length for every line of an area, and none without a total", () => {
    const a = renderLine({ name: "database", stage: "pg_restore", done: 1000, total: 4000, elapsedMs: 2000 }, 79);
    const b = renderLine({ name: "media", stage: "extract", done: 5e7, total: 6e7, elapsedMs: 61_000 }, 79);
    expect(a).toMatch(/^database pg_restore \[#{3}-{8}\]  25% +1000 B\/3\.9 KiB +500 B\/s +2s$/);
    expect(b).toMatch(/^media +extract +\[#{9}-{2}\]  83% +47\.7 MiB\/57\.2 MiB 800\.5 KiB\/s 1m 01s$/);
    expect(a.indexOf("]")).toBe(b.indexOf("]"));
    expect(renderLine({ name: "media", stage: "tar+zstd", done: 3 * 2 ** 20, elapsedMs: 1500 }, 79)).toBe(
      "media    tar+zstd      3.0 MiB   2.0 MiB/s     2s",
    );
  });

  it("are cut, not wrapped, on a very narrow terminal", () => {
    expect(fitWidth("abcdef", 4)).toBe("abc…");
    expect(fitWidth("abc", 4)).toBe("abc");
    expect(fitWidth("日本語のファイル", 3)).toBe("日本…");
  });
});

describe("the live area", () => {
  it("keeps every printed line, in order, above its last frame, never on a progress row", async () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant("log" as const), text: fc.string({ minLength: 1, maxLength: 200 }) }),
      fc.record({ kind: fc.constant("frame" as const), lines: fc.array(lineState, { minLength: 1, maxLength: 3 }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 25 }), fc.integer({ min: 30, max: 140 }), async (ops, columns) => {
        const tty = fakeTty(columns);
        const area = new LiveArea(tty);
        const logged: string[] = [];
        let frame: string[] = [];
        for (const o of ops) {
          if (o.kind === "log") {
            // Printable text only: a log line is one line (the logger's JSON escapes control characters).
            const text = `LOG ${logged.length} ${o.text.replace(/[^\x20-\x7e]/g, "?")}`.trimEnd();
            logged.push(text);
            area.printAbove(text);
          } else {
            frame = o.lines.map((l) => renderLine(l, columns - 1));
            area.update(frame);
          }
        }
        const rows = await renderScreen(tty.output(), columns, 10);
        area.release();
        // Join wrapped rows back into lines; the area's lines never wrap.
        const lines: string[] = [];
        for (const row of rows) {
          if (row.wrapped) lines[lines.length - 1] += row.text;
          else lines.push(row.text);
        }
        expect(lines.map((l) => l.trimEnd())).toEqual([...logged, ...frame].map((l) => l.trimEnd()));
      }),
      { numRuns: 60 },
    );
  });

  it("is left on the screen as ordinary lines when released; text then prints below it", async () => {
    const tty = fakeTty(80);
    const area = new LiveArea(tty);
    area.update(["media    extract  50%"]);
    area.printAbove("first log line");
    area.update(["media    verified 100%"]);
    area.release();
    tty.write("summary\n");
    const rows = await renderScreen(tty.output(), 80, 10);
    expect(rows.map((r) => r.text.trimEnd())).toEqual(["first log line", "media    verified 100%", "summary"]);
  });

  it("is only opened on a terminal that can move its cursor", () => {
    expect(openLiveArea(fakeTty(80), {})).toBeInstanceOf(LiveArea);
    expect(openLiveArea(fakeTty(80), { TERM: "dumb" })).toBeUndefined();
    expect(openLiveArea(new PassThrough() as unknown as NodeJS.WriteStream, {})).toBeUndefined();
  });

  it("logs one line per unfinished stream off a terminal instead of drawing", async () => {
    const out = new PassThrough();
    let text = "";
    out.on("data", (c: Buffer) => (text += c.toString()));
    const log = createLogger({ format: "json", level: "info", destination: out });
    const progress = startProgress({ log, intervalMs: 20 });
    const db = progress.track("database", { stage: "pg_restore", total: 100 });
    db.follow({ bytes: 40 });
    const media = progress.track("media", { stage: "extract", total: 10 });
    media.finish("verified");
    await new Promise((resolve) => setTimeout(resolve, 70));
    progress.stop();
    const lines = text
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.length).toBeGreaterThanOrEqual(1);
    for (const l of lines)
      expect(l).toMatchObject({ msg: "progress", stage: "database", step: "pg_restore", bytes: 40, total: 100 });
  });
});

describe("the readable log view", () => {
  it("shows the message and the fields a person needs, formatted as list prints them", () => {
    expect(
      readableFields({
        backupId: "20260101T000000Z-abcd",
        tier: "daily",
        stage: "done",
        databaseBytes: 1_080_595,
        mediaBytes: 27_487_790,
        mediaFiles: 12,
        tables: 6,
        seconds: 2.509,
        rate: 10_450_442,
        pgDumpVersion: "15.8",
      }),
    ).toEqual(["stage done", "database 1.0 MiB", "media 26.2 MiB", "12 files", "6 tables", "3s", "10.0 MiB/s"]);
    expect(readableFields({ stage: "done", database: { name: "live", bytes: 2048, tables: 3 }, media: null })).toEqual([
      "stage done",
      "database live 2.0 KiB",
    ]);
  });

  it("prints no JSON object, colours only when asked, and redacts like the JSON view", () => {
    const out = new PassThrough();
    let text = "";
    out.on("data", (c: Buffer) => (text += c.toString()));
    const log = createLogger({
      format: "pretty",
      level: "info",
      destination: out,
      color: false,
      secrets: ["hunter22"],
    });
    log.info({ stage: "failed", error: "login hunter22 refused", nested: { a: 1 } }, "backup failed");
    expect(text).toMatch(/^\[\d\d:\d\d:\d\d\] INFO: backup failed \(stage failed, error: login \*\*\* refused\)\n$/);
  });

  it("shows control characters from hostile names as text, never as terminal commands", () => {
    const out = new PassThrough();
    let text = "";
    out.on("data", (c: Buffer) => (text += c.toString()));
    const log = createLogger({ format: "pretty", level: "info", destination: out, color: false });
    const name = "scan\u001b]0;pwned\u0007\u001b[2J\u009b1A.pdf";
    log.warn({ stage: "media", error: `cannot read ${name}` }, `skipped ${name}`);
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    expect(text).toContain(
      "skipped scan\\u001b]0;pwned\\u0007\\u001b[2J\\u009b1A.pdf (stage media, error: cannot read scan\\u001b]0;",
    );
  });
});

describe("printable text", () => {
  it("has no control character but newline and tab, and JSON reads it back unchanged", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (s) => {
        expect(printable(s)).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
        expect(JSON.parse(printable(JSON.stringify(s)))).toBe(s);
      }),
    );
  });
});
