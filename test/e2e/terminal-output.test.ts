// What an operator sees on a terminal: the progress lines live at the bottom and are redrawn in
// place, log lines are printed above them (never on the same row), the readable log view shows
// the message and a few formatted fields (not JSON), and the last rows are the summary. Driven on
// a real pseudo-terminal and rendered by a terminal emulator, on data large enough for several
// redraws (S3 through moto_server, the production destination, at its realistic speed).
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { fileDatabases } from "../helpers/file-databases.js";
import { connectionUrl } from "../helpers/pg-cluster.js";
import { tableChecksums, type TestDatabase } from "../helpers/pg-test-db.js";
import { runRunner } from "../helpers/runner-cli.js";
import { createTestBucket, type TestBucket } from "../helpers/s3-bucket.js";
import { makeMediaTree, mediaTreeDigest, seedEdmsDatabase } from "../helpers/sample-data.js";
import { WRAP_INDENT } from "../../runner/src/output/fit-width.js";
import { runOnTerminal, type ScreenRow, type TerminalRun } from "../helpers/terminal.js";

const pg = inject("pg");
const s3Endpoint = inject("s3Endpoint");

let source: TestDatabase;
let mediaDir: string;
let bucket: TestBucket;
let backup: TerminalRun;
const { create: newDatabase } = fileDatabases(pg);

const LOG_ROW = /^\[\d\d:\d\d:\d\d\] (INFO|WARN|ERROR)/;
const PROGRESS_ROW = /^(database|media) +(pg_dump|tar\S*|stored|pg_restore|extract|verified|failed) +\S/;
const BAR = /\[[#-]{6,}\] +\d+%/;
const SGR_COLOR = /\u001b\[(3\d|9\d)m/;

/**
 * Rows joined back into the lines that were printed: a line the terminal wrapped, or one the
 * runner broke between words (its continuation rows indented WRAP_INDENT past the line's own).
 */
function logicalLines(rows: readonly ScreenRow[]): string[] {
  const lines: string[] = [];
  const indentOf = (text: string) => /^ */.exec(text)![0].length;
  for (const row of rows) {
    const last = lines.at(-1);
    if (row.wrapped && last !== undefined) lines[lines.length - 1] += row.text;
    else if (last !== undefined && row.text.trim() && indentOf(row.text) === indentOf(last) + WRAP_INDENT)
      lines[lines.length - 1] = `${last} ${row.text.trim()}`;
    else lines.push(row.text);
  }
  return lines;
}

/** Every frame of the progress area that was drawn, as text, in order. */
function progressFrames(raw: string): string[] {
  return raw.match(/(?:database|media) +\S+ +[^\r\n\u001b]*/g) ?? [];
}

/** The layout rules: progress rows and log rows are distinct rows, and no progress row wraps. */
function expectSeparateRows(run: TerminalRun, columns: number): void {
  const rows = run.rows;
  rows.forEach((row, i) => {
    const progress = PROGRESS_ROW.test(row.text) || BAR.test(row.text);
    if (progress) {
      expect(row.text, `row ${i} mixes progress and a log line`).not.toMatch(/\[\d\d:\d\d:\d\d\]|"level"|INFO|WARN/);
      expect(row.text, `row ${i} is a progress row in the middle of a line`).toMatch(PROGRESS_ROW);
      expect(row.wrapped || rows[i + 1]?.wrapped, `progress row ${i} wrapped at ${columns} columns`).toBeFalsy();
      expect(row.text.length).toBeLessThan(columns);
    }
    if (LOG_ROW.test(row.text)) expect(row.text, `row ${i}`).not.toMatch(/(pg_dump|pg_restore|extract) {2,}/);
  });
}

beforeAll(async () => {
  source = await newDatabase("term_src");
  await seedEdmsDatabase(source.url, { documents: 3000 });
  mediaDir = await mkdtemp(path.join(tmpdir(), "edms-term-media-"));
  // ~48 MiB of incompressible scans: at moto's ~50 MB/s that is about a second of streaming each
  // way, i.e. several redraws at 10 per second even on a fast machine.
  await makeMediaTree(mediaDir, { bigFileMiB: 48 });
  bucket = await createTestBucket(s3Endpoint);
  backup = await runOnTerminal(["backup", "--tier", "daily"], {
    ...bucket.env("edms"),
    DATABASE_URL: source.url,
    MEDIA_DIR: mediaDir,
    // The tar stream's progress rows (tar, extract, "of archive"): one stream a part to draw.
    MEDIA_FORMAT: "tar",
    NO_COLOR: "1",
  });
});

describe("a backup on an 80-column terminal with NO_COLOR", () => {
  it("redraws one line per stream below the log lines and ends with the summary", () => {
    expect(backup.code, backup.raw).toBe(0);
    const frames = progressFrames(backup.raw);
    expect(new Set(frames.filter((f) => f.startsWith("media"))).size, backup.raw).toBeGreaterThanOrEqual(3);
    expect(frames.some((f) => /^database +pg_dump/.test(f))).toBe(true);
    const texts = backup.rows.map((r) => r.text);
    expect(texts.filter((t) => LOG_ROW.test(t)).length).toBeGreaterThanOrEqual(2);
    // The final frame stays on the screen: both streams, stored, with their sizes and rates.
    expect(texts).toContainEqual(expect.stringMatching(/^database +stored +[\d.]+ (KiB|MiB) +[\d.]+ \S+\/s +\d+s$/));
    expect(texts).toContainEqual(expect.stringMatching(/^media +stored +[\d.]+ MiB +[\d.]+ \S+\/s +\d+s$/));
    expectSeparateRows(backup, 80);
    expect(logicalLines(backup.rows).slice(-3)).toEqual([
      expect.stringMatching(/^backed up daily\/\d{8}T\d{6}Z-[0-9a-f]{4} in \d+s to s3:\/\/test-\S+\/edms$/),
      expect.stringMatching(/^ {2}database term_src\S*: \d+ tables, [\d.]+ (KiB|MiB) of dump$/),
      expect.stringMatching(/^ {2}media: 1\d files, 4\d\.\d MiB of archive$/),
    ]);
  });

  it("shows the message and the readable fields, not the JSON object, without colours", () => {
    const lines = logicalLines(backup.rows);
    expect(backup.raw).not.toMatch(SGR_COLOR);
    expect(lines.filter((l) => l.includes("{") || l.includes('"'))).toEqual([]);
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^\[\d\d:\d\d:\d\d\] INFO: backup daily\/\S+ complete \(stage done, database [\d.]+ \S+, media [\d.]+ MiB, \d+ files, \d+ tables, \d+s, [\d.]+ \S+\/s\)$/,
      ),
    );
  });
});

describe("a restore on an 80-column terminal", () => {
  it("draws a bar per part (pg_restore, extract), logs above it, and ends with the summary", async () => {
    const target = await newDatabase("term_live");
    const media = path.join(await mkdtemp(path.join(tmpdir(), "edms-term-restore-")), "media");
    const run = await runOnTerminal(["restore", "latest", "--yes", "--target-db", target.name, "--media-dir", media], {
      ...bucket.env("edms"),
      DATABASE_URL: source.url,
    });
    expect(run.code, run.raw).toBe(0);
    expect(await tableChecksums(connectionUrl(pg, target.name))).toEqual(await tableChecksums(source.url));
    expect(await mediaTreeDigest(media)).toEqual(await mediaTreeDigest(mediaDir));

    const frames = progressFrames(run.raw);
    expect(new Set(frames.filter((f) => /^media +extract .*\] +\d+%/.test(f))).size, run.raw).toBeGreaterThanOrEqual(3);
    expect(frames.some((f) => /^database +pg_restore +\[[#-]+\] +\d+%/.test(f))).toBe(true);
    const texts = run.rows.map((r) => r.text);
    expect(texts).toContainEqual(expect.stringMatching(/^database +verified +\[#+\] +100% /));
    expect(texts).toContainEqual(expect.stringMatching(/^media +verified +\[#+\] +100% +4\d\.\d MiB\/4\d\.\d MiB/));
    expect(texts.filter((t) => LOG_ROW.test(t)).length).toBeGreaterThanOrEqual(3);
    expectSeparateRows(run, 80);
    expect(run.raw, "colours on a terminal without NO_COLOR").toMatch(SGR_COLOR);
    // The summary ends with what the restore kept for an undo, and the two commands that act on it.
    // The database's own properties follow its line, indented further (issue 23).
    const summary = logicalLines(run.rows);
    expect(summary).toContainEqual(expect.stringMatching(/^ {4}owner \S+/));
    expect(summary.filter((l) => !l.startsWith("    ")).slice(-5)).toEqual([
      expect.stringMatching(/^restored daily\/\S+ in [\d.]+ s$/),
      expect.stringMatching(
        new RegExp(
          `^ {2}database ${target.name}: \\d+ tables, \\d+ rows \\([\\d.]+ \\S+ of dump\\), analyzed in [\\d.]+ s, owners kept$`,
        ),
      ),
      expect.stringMatching(/^ {2}media \S+: 1\d files \(4\d\.\d MiB of archive\)$/),
      expect.stringMatching(/^ {2}kept until \S+Z: \S+__edms_previous_\S+$/),
      expect.stringMatching(
        /^ {2}undo: edms-backup undo-restore --target-db \S+ --media-dir \S+; drop them now: edms-backup cleanup --older-than 0$/,
      ),
    ]);
  });

  it("keeps every field with --log-format json, still above the progress lines, on 120 columns", async () => {
    const media = path.join(await mkdtemp(path.join(tmpdir(), "edms-term-json-")), "media");
    const run = await runOnTerminal(
      ["restore", "latest", "--yes", "--media-only", "--media-dir", media, "--log-format", "json"],
      { ...bucket.env("edms") },
      { columns: 120 },
    );
    expect(run.code, run.raw).toBe(0);
    const json = logicalLines(run.rows)
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(json.find((l) => l.stage === "done")).toMatchObject({
      tier: "daily",
      backupId: expect.stringMatching(/^\d{8}T/),
      media: { dir: media, files: expect.any(Number), bytes: expect.any(Number) },
      rate: expect.any(Number),
    });
    expectSeparateRows(run, 120);
    // The wider terminal gets the widest bar.
    expect(run.rows.map((r) => r.text)).toContainEqual(expect.stringMatching(/^media +verified +\[#{30}\] +100%/));
  });
});

describe("off a terminal", () => {
  it("draws no progress area and writes JSON lines only", async () => {
    const media = path.join(await mkdtemp(path.join(tmpdir(), "edms-term-pipe-")), "media");
    const run = await runRunner(["restore", "latest", "--yes", "--media-only", "--media-dir", media], {
      ...bucket.env("edms"),
      LOG_FORMAT: undefined,
      PROGRESS_INTERVAL_SECONDS: "1",
    });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout + run.stderr).not.toMatch(/\u001b|\r/);
    const lines = run.stdout.trim().split("\n");
    expect(lines.length).toBe(run.logs.length);
    expect(run.logs.find((l) => l.msg === "restore started")).toBeDefined();
  });
});

describe("hostile text", () => {
  it("prints an escape sequence in a backup id as text, not as a command to the terminal", async () => {
    const ref = "\u001b]0;pwned\u0007\u001b[2J";
    const run = await runOnTerminal(["verify", ref], { ...bucket.env("edms") });
    expect(run.code).toBe(2);
    expect(run.raw).not.toContain("\u001b]0;");
    expect(run.raw).not.toContain("\u001b[2J");
    expect(logicalLines(run.rows)).toContainEqual(
      'edms-backup: "\\u001b]0;pwned\\u0007\\u001b[2J" is not a backup id (like 20260111T144748Z-3f9a) or "latest"',
    );
  });
});
