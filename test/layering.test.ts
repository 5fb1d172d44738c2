// The layering rules in eslint.config.mjs, held against the real ESLint with the repository's own
// config: each forbidden import is reported where it is written, and the allowed ones are not. A
// rule whose glob matched nothing (a moved folder, a typo) would otherwise pass every lint run.
import path from "node:path";
import { ESLint } from "eslint";
import { describe, expect, it } from "vitest";

const root = path.join(__dirname, "..");
// Only the import rule, and no type information: parsing the whole program would cost a minute.
const eslint = new ESLint({
  cwd: root,
  ruleFilter: ({ ruleId }) => ruleId === "no-restricted-imports",
  overrideConfig: { languageOptions: { parserOptions: { projectService: false } } },
});

/** The no-restricted-imports messages for `source` written as the file `file`. */
async function restricted(file: string, source: string): Promise<string[]> {
  const [result] = await eslint.lintText(`${source}\nexport const used = x;\n`, { filePath: path.join(root, file) });
  return result!.messages.filter((m) => m.ruleId === "no-restricted-imports").map((m) => m.message);
}

describe("layering (no-restricted-imports)", () => {
  it.each([
    ["runner/src/notify/webhook.ts", 'import { x } from "../commands/status.js";', /notify\/ reports/],
    ["runner/src/notify/webhook.ts", 'import { x } from "../cli/shared.js";', /only the CLI layer/],
    ["runner/src/commands/backup.ts", 'import { x } from "../restore/restore-target.js";', /backup never imports/],
    ["runner/src/commands/backup.ts", 'import { x } from "../cli/shared.js";', /only the CLI layer/],
    ["runner/src/cli/backup-command.ts", 'import { x } from "../restore/run-copies.js";', /backup never imports/],
    ["runner/src/media-store/store-writer.ts", 'import { x } from "../restore/kept-copies.js";', /backup never/],
    ["runner/src/media-store/store-writer.ts", 'import { x } from "../commands/status.js";', /only cli\//],
    ["runner/src/stages/zstd.ts", 'import { x } from "../restore/media-staging.js";', /backup never imports/],
    ["runner/src/contract/env.ts", 'import { x } from "../errors.js";', /contract's other parts/],
    ["runner/src/contract.ts", 'import { x } from "./errors.js";', /import nothing but zod/],
  ])("%s: %s is refused", async (file, source, message) => {
    const messages = await restricted(file, source);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatch(message);
  });

  it.each([
    ["runner/src/commands/restore.ts", 'import { x } from "../restore/restore-target.js";'],
    ["runner/src/contract/env.ts", 'import { x } from "./tiers.js";'],
    ["runner/src/commands/backup.ts", 'import { x } from "../paths/real-path.js";'],
    ["runner/src/cli/backup-command.ts", 'import { x } from "../commands/backup.js";'],
    ["runner/src/cli/status-command.ts", 'import { x } from "./shared.js";'],
  ])("%s: %s is allowed", async (file, source) => {
    expect(await restricted(file, source)).toEqual([]);
  });
});
