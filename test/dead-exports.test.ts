// The dead-export check (scripts/dead-exports.ts, issue 24): on a small repository whose every
// kind of use is known, then on this repository, where it must find nothing.
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { deadExports } from "../scripts/dead-exports.js";

/**
 * Exports of the media store nobody imports yet, left for its owners (issue 22) to use or remove:
 * removing them here would break their branches under way. Each entry is a debt, not a rule.
 */
const KNOWN = ["runner/src/media-store/store-writer.ts: describeStats"];

async function fixture(files: Record<string, string>): Promise<string> {
  const root = await mkdtemp(path.join(tmpdir(), "edms-dead-exports-"));
  const options = { module: "nodenext", moduleResolution: "nodenext", strict: true, types: [] };
  await writeFile(path.join(root, "tsconfig.json"), JSON.stringify({ compilerOptions: options, include: ["**/*.ts"] }));
  for (const [name, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, name)), { recursive: true });
    await writeFile(path.join(root, name), text);
  }
  return root;
}

describe("deadExports", () => {
  it("reports exactly the exports nothing imports and their own file never reads", async () => {
    const root = await fixture({
      "runner/src/a.ts": [
        "export const imported = 1;",
        "export const unused = 2;",
        "export interface Shape { n: number }",
        "export function usesShape(s: Shape): number { return s.n; }",
        "export type OnlyType = string;",
        "export const viaAlias = 3;",
      ].join("\n"),
      "runner/src/b.ts":
        'import { imported, usesShape, viaAlias as renamed } from "./a.js";\nexport const x = imported + renamed + usesShape({ n: 1 });\n',
      "runner/src/c.ts": 'import type { OnlyType } from "./a.js";\nexport type Y = OnlyType;\n',
      // A barrel: names used through it count for the module it re-exports.
      "runner/src/barrel.ts": 'export * from "./inner.js";\n',
      "runner/src/inner.ts": "export const throughBarrel = 1;\nexport const notThroughBarrel = 2;\n",
      "runner/src/dynamic.ts": "export const anything = 1;\n",
      "runner/src/namespace.ts": "export const everything = 1;\n",
      "test/uses.ts": [
        'import { throughBarrel } from "../runner/src/barrel.js";',
        'import * as ns from "../runner/src/namespace.js";',
        'import { x } from "../runner/src/b.js";',
        'import type { Y } from "../runner/src/c.js";',
        "export const t = throughBarrel + ns.everything + x;",
        'export const later = () => import("../runner/src/dynamic.js");',
        "export const y: Y = '';",
      ].join("\n"),
      // Outside runner/src and components/: never checked.
      "scripts/tool.ts": "export const cli = 1;\n",
    });
    expect(deadExports(root)).toEqual(["runner/src/a.ts: unused", "runner/src/inner.ts: notThroughBarrel"]);
  }, 60_000);

  it("finds none in this repository (besides the known ones)", () => {
    const found = deadExports(path.join(__dirname, ".."));
    expect(found.filter((line) => !KNOWN.includes(line))).toEqual([]);
    // A known one that was removed or used is taken off the list.
    expect(KNOWN.filter((line) => !found.includes(line))).toEqual([]);
  }, 180_000);
});
