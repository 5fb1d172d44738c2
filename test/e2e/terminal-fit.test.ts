// What a person reads, as issue 26 item 10 found it (a real pseudo-terminal rendered by a terminal
// emulator, util-linux `script` + @xterm/headless, or a pipe with --log-format pretty):
// - on 80 columns no log line wraps mid-word and `list` fits the width (no row the terminal wraps);
// - off a terminal, --log-format pretty still prints the drill's checks and the restore's summary;
// - the migration warning is said once before the restore's question, not twice;
// - the readable missing-files warning names the missing paths;
// - `cleanup` with nothing due says which kept copies stay, until when, and `--older-than 0`.
import { mkdtemp, mkdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { fileDatabases } from "../helpers/file-databases.js";
import { sql, type TestDatabase } from "../helpers/pg-test-db.js";
import { runRunner } from "../helpers/runner-cli.js";
import { runOnTerminal, type ScreenRow } from "../helpers/terminal.js";

const pg = inject("pg");
const { create: newDatabase } = fileDatabases(pg);

let db: TestDatabase;
let media: string;
let dest: string;
const MISSING = "documents/2026/a rather long folder name/missing scan of the contract.pdf";

const env = () => ({
  BACKUP_DESTINATION: `file://${dest}`,
  DATABASE_URL: db.url,
  MEDIA_DIR: media,
  PG_BIN_DIR: pg.binDir,
  NO_COLOR: "1",
});

/** Rows the terminal wrapped itself (a line longer than the width): none may be. */
function wrappedRows(rows: readonly ScreenRow[]): string[] {
  return rows.flatMap((row, i) => (row.wrapped ? [`${rows[i - 1]?.text ?? ""}\n${row.text}`] : []));
}

beforeAll(async () => {
  db = await newDatabase("term_fit");
  media = await mkdtemp(path.join(tmpdir(), "edms-term-fit-media-"));
  dest = await mkdtemp(path.join(tmpdir(), "edms-term-fit-dest-"));
  await mkdir(path.join(media, "documents"), { recursive: true });
  await writeFile(path.join(media, "documents", "present.pdf"), "x".repeat(1000));
  await sql(
    db.url,
    `create table documents_document (id serial primary key, file varchar(200));
     insert into documents_document (file) values ('documents/present.pdf'), ('${MISSING}');
     create table django_migrations (id serial primary key, app varchar(255), name varchar(255), applied timestamptz default now());
     insert into django_migrations (app, name) values ('documents', '0001_initial'), ('documents', '0002_file');`,
  );
  for (const tier of ["daily", "weekly", "monthly"]) {
    const r = await runRunner(["backup", "--tier", tier], { ...env(), MEDIA_REFERENCES: "documents_document.file" });
    expect(r.code, r.stderr).toBe(0);
  }
});

describe("on an 80-column terminal", () => {
  it("list fits the width: no row wraps, every set and its state are there", async () => {
    const run = await runOnTerminal(["list"], env(), { columns: 80, rows: 40 });
    expect(run.code, run.raw).toBe(0);
    expect(wrappedRows(run.rows)).toEqual([]);
    for (const row of run.rows) expect(row.text.length, row.text).toBeLessThanOrEqual(80);
    const sets = run.rows.filter((r) => /^\d{8}T\d{6}Z-[0-9a-f]+ /.test(r.text));
    expect(sets).toHaveLength(3);
    expect(sets.map((r) => /\b(daily|weekly|monthly)\b/.exec(r.text)?.[1]).sort()).toEqual([
      "daily",
      "monthly",
      "weekly",
    ]);
    // The referenced file the media lacks stays visible in the narrow table.
    for (const r of sets) expect(r.text).toMatch(/MISSING/);
    // Off a terminal, COLUMNS fixes the width (as for GNU ls); unset, the full table.
    const piped = await runRunner(["list"], { ...env(), COLUMNS: "80" });
    for (const line of piped.stdout.trimEnd().split("\n")) expect(line.length, line).toBeLessThanOrEqual(80);
    expect((await runRunner(["list"], env())).stdout).toContain("STARTED (UTC)");
    // On a wide terminal, the full table as before.
    const wide = await runOnTerminal(["list"], env(), { columns: 200, rows: 40 });
    expect(wide.rows.some((r) => r.text.includes("STARTED (UTC)") && r.text.includes("CONTENTS"))).toBe(true);
  });

  it("log lines wrap at word boundaries, never mid-word, continuation rows indented", async () => {
    const run = await runOnTerminal(
      ["backup", "--tier", "adhoc"],
      { ...env(), MEDIA_REFERENCES: "documents_document.file" },
      { columns: 80, rows: 60 },
    );
    expect(run.code, run.raw).toBe(0);
    expect(wrappedRows(run.rows)).toEqual([]);
    // The long warning is there, broken between words: its words are each whole on some row.
    const text = run.rows.map((r) => r.text).join("\n");
    expect(text).toMatch(/\[\d\d:\d\d:\d\d\] WARN: 1 of 2 media files/);
    for (const word of MISSING.split(" ")) expect(text).toContain(word);
  });
});

describe("readable output off a terminal (--log-format pretty into a pipe)", () => {
  it("the missing-files warning names the missing paths", async () => {
    const r = await runRunner(["backup", "--tier", "adhoc", "--log-format", "pretty"], {
      ...env(),
      MEDIA_REFERENCES: "documents_document.file",
    });
    expect(r.code, r.stderr).toBe(0);
    const warning = r.stdout.split("\n").find((l) => l.includes("media files referenced by"));
    expect(warning).toContain(MISSING);
  });

  it("the drill prints its checks and the restore its summary", async () => {
    const drill = await runRunner(["drill", "latest", "--log-format", "pretty"], env());
    expect(drill.code, drill.stdout + drill.stderr).toBe(0);
    expect(drill.stdout).toMatch(/^drill \w+\/\S+: PASSED/m);
    expect(drill.stdout).toMatch(/^ {2}ok {3}\S/m);
    const target = await newDatabase("term_fit_target");
    const restore = await runRunner(
      ["restore", "latest", "--yes", "--database-only", "--target-db", target.name, "--log-format", "pretty"],
      env(),
    );
    expect(restore.code, restore.stdout + restore.stderr).toBe(0);
    expect(restore.stdout).toMatch(/^restored \w+\/\S+ in /m);
    expect(restore.stdout).toMatch(/^ {2}database \S+: \d+ tables/m);
  });
});

describe("the restore's question on a terminal", () => {
  it("says the migration warning once", async () => {
    const live = await newDatabase("term_fit_live");
    await sql(
      live.url,
      `create table django_migrations (id serial primary key, app varchar(255), name varchar(255), applied timestamptz default now());
       insert into django_migrations (app, name) values ('documents', '0001_initial'), ('documents', '0002_file'), ('documents', '0003_pages');`,
    );
    // The operator answers no: the restore stops at the question, nothing changed.
    const run = await runOnTerminal(["restore", "latest", "--database-only", "--target-db", live.name], env(), {
      columns: 200,
      rows: 60,
      input: "n\n",
    });
    expect(run.code).toBe(1);
    const text = run.rows.map((r) => r.text).join("\n");
    expect(text).toMatch(/\[y\/N\]/);
    expect(text.match(/the backup predates migrations documents: 0003_pages/g)).toHaveLength(1);
  });
});

describe("cleanup with nothing due", () => {
  it("names the kept copies, until when they stay, and how to drop them now", async () => {
    const restore = await runRunner(["restore", "latest", "--yes", "--database-only"], env());
    expect(restore.code, restore.stderr).toBe(0);
    const status = await runRunner(["status", "--json"], env());
    expect(status.stdout).toMatch(/keptCopies|kept/i);
    const cleanup = await runRunner(["cleanup"], env());
    expect(cleanup.code, cleanup.stderr).toBe(0);
    expect(cleanup.stdout).toMatch(/nothing to clean up yet/);
    expect(cleanup.stdout).toMatch(/kept database \S+ stays until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/);
    expect(cleanup.stdout).toContain("edms-backup cleanup --older-than 0");
    const now = await runRunner(["cleanup", "--older-than", "0", "--yes"], env());
    expect(now.code, now.stderr).toBe(0);
    expect(now.stdout).toMatch(/removed 1 copy/);
  });
});
