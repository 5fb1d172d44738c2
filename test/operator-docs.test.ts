// The operator's documents (README, docs/DEPLOY.md, docs/RUNBOOK.md) are read at 3 a.m. by someone
// who has only them (issue 26): what they tell a person to type must work as typed, and the three
// must say the same thing. These are the rules a reader found broken, held mechanically.
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runnerEnvSchema } from "../runner/src/contract.js";
import { runRunner } from "./helpers/runner-cli.js";

const ROOT = path.resolve(__dirname, "..");
const DOCS = ["README.md", "docs/DEPLOY.md", "docs/RUNBOOK.md"] as const;
const text = (file: string) => readFileSync(path.join(ROOT, file), "utf8");

interface Snippet {
  where: string;
  code: string;
}

/** Each fenced block of a document in `language` ("" for a plain transcript), continuation lines joined. */
function fencedBlocks(file: string, language: string): Snippet[] {
  const blocks: Snippet[] = [];
  const lines = text(file).split("\n");
  for (let i = 0; i < lines.length; i++) {
    const opening = /^\s*```(\S*)\s*$/.exec(lines[i]!);
    if (!opening) continue;
    const start = i + 1;
    const body: string[] = [];
    while (++i < lines.length && !/^\s*```\s*$/.test(lines[i]!)) body.push(lines[i]!);
    if (opening[1] === language)
      blocks.push({ where: `${file}:${start + 1}`, code: body.join("\n").replace(/\\\n\s*/g, " ") });
  }
  return blocks;
}

const shellBlocks = (file: string) => fencedBlocks(file, "sh");

/** Each `inline code span` outside the code blocks (a span may run over a line break). */
function inlineSpans(file: string): Snippet[] {
  let fenced = false;
  const prose = text(file)
    .split("\n")
    .map((line) => {
      if (/^\s*```/.test(line)) fenced = !fenced;
      return fenced || /^\s*```/.test(line) ? "" : line;
    })
    .join("\n");
  return [...prose.matchAll(/`([^`]+)`/g)].map((m) => ({
    where: `${file}:${prose.slice(0, m.index).split("\n").length}`,
    code: m[1]!.replace(/\s*\n\s*/g, " "),
  }));
}

/** The simple commands of a snippet: split at pipes, `&&`, `;` and newlines, comments dropped. */
function commands(code: string): string[] {
  return code
    .split("\n")
    .map((line) => line.replace(/(^|\s)#.*$/, ""))
    .flatMap((line) => line.split(/\|\||&&|[|;]|\$\(|\)/))
    .map((c) => c.trim())
    .filter((c) => c !== "");
}

const everySnippet = () => DOCS.flatMap((f) => [...shellBlocks(f), ...inlineSpans(f)]);

describe("what the documents tell an operator to type", () => {
  it("every kubectl command names the namespace (a laptop's current namespace is anybody's guess)", () => {
    const unnamed = everySnippet().flatMap(({ where, code }) =>
      commands(code)
        .filter((c) => /^kubectl\s/.test(c))
        // `kubectl ... create` in a table is an abbreviation of an exported command, not a recipe.
        .filter((c) => !/^kubectl\s+\.\.\./.test(c))
        .filter((c) => !/(^|\s)(-n\s|--namespace[=\s]|\$NS\b)/.test(c))
        .map((c) => `${where}: ${c}`),
    );
    expect(unnamed).toEqual([]);
  });

  it("runs the runner as `node dist/edms-backup.cjs` (or the image): no bare edms-backup, which is on no PATH", () => {
    const bare = DOCS.flatMap((file) =>
      shellBlocks(file).flatMap(({ where, code }) =>
        commands(code)
          .map((c) => c.replace(/^(export\s+)?([A-Z_][A-Z0-9_]*=\S*\s+)*/, ""))
          .filter((c) => /^edms-backup(\s|$)/.test(c))
          .map((c) => `${where}: ${c}`),
      ),
    );
    // Transcripts show the command typed after "$ ", to be typed again.
    const typed = DOCS.flatMap((file) =>
      fencedBlocks(file, "").flatMap(({ where, code }) =>
        code
          .split("\n")
          .filter((l) => /^\$ edms-backup\s/.test(l))
          .map((l) => `${where}: ${l}`),
      ),
    );
    bare.push(...typed);
    expect(bare).toEqual([]);
  });

  it("a backup or import recipe sets the recipients (a laptop must not store plaintext beside encrypted sets)", () => {
    const recipes = [
      ...DOCS.flatMap(shellBlocks),
      // An inline recipe is self-contained when it sets the destination itself.
      ...DOCS.flatMap(inlineSpans).filter((s) => s.code.includes("BACKUP_DESTINATION=")),
    ];
    const unencrypted = recipes
      .filter(({ code }) => /edms-backup\.cjs\s+(backup|import)\b/.test(code))
      .filter(({ code }) => !/ENCRYPTION_RECIPIENTS=|--encrypt-to/.test(code))
      .map(({ where }) => where);
    expect(unencrypted).toEqual([]);
  });

  it("each document says restores run as the restore role (database.restoreRole), not the backup role", () => {
    for (const file of DOCS) expect(text(file), file).toContain("database.restoreRole");
  });
});

describe("the README covers the runner", () => {
  it("every variable of the env contract is in the configuration table", () => {
    const readme = text("README.md");
    const table = readme.slice(readme.indexOf("### Configuration"), readme.indexOf("### Storage layout"));
    const missing = Object.keys(runnerEnvSchema.shape).filter((name) => !new RegExp(`\\b${name}\\b`).test(table));
    expect(missing).toEqual([]);
  });

  it("every command of the runner has a row in the command table", async () => {
    const help = await runRunner(["--help"], { COLUMNS: "200" });
    expect(help.code).toBe(0);
    const names = [...help.stdout.matchAll(/^ {2}([a-z][a-z-]*) /gm)].map((m) => m[1]!).filter((n) => n !== "help");
    expect(names).toContain("undo-restore");
    const rows = text("README.md")
      .split("\n")
      .filter((l) => l.startsWith("| `"));
    const missing = names.filter(
      (name) => !rows.some((row) => row.startsWith(`| \`${name} `) || row.startsWith(`| \`${name}\``)),
    );
    expect(missing).toEqual([]);
  });
});
