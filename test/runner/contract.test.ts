// The env contract: shared by the Pulumi program and the runner, so it imports nothing but zod, and
// its patterns follow the tier list instead of repeating it.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import fc from "fast-check";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import {
  runnerEnvSchema,
  STORE_OBJECT_KEY_RE,
  STORE_OBJECTS_PREFIX,
  storeObjectKey,
  TIERS,
} from "../../runner/src/contract.js";

/** The modules the Pulumi program imports from the runner: nothing but zod may come with them. */
const CONTRACT_MODULES = ["runner/src/contract.ts", "runner/src/metric-names.ts", "runner/src/prometheus-names.ts"];
/** contract.ts's parts, re-exported by it (one import point). */
const CONTRACT_PARTS = readdirSync("runner/src/contract").map((f) => `runner/src/contract/${f}`);

/** Every module a file names: imports, re-exports, `import type`, dynamic import() and require(). */
function importedModules(path: string): string[] {
  return ts.preProcessFile(readFileSync(path, "utf8"), true, true).importedFiles.map((f) => f.fileName);
}

describe("the contract modules", () => {
  it.each([...CONTRACT_MODULES, ...CONTRACT_PARTS])("%s imports nothing but zod and the contract's parts", (file) => {
    const imported = importedModules(file).filter((name) => name !== "zod");
    const resolved = imported.map((name) => path.join(path.dirname(file), name).replace(/\.js$/, ".ts"));
    for (const module of resolved) expect(CONTRACT_PARTS).toContain(module);
  });

  it("contract.ts re-exports every part, and the parts are there", () => {
    expect(CONTRACT_PARTS.length).toBeGreaterThan(1);
    const reexported = importedModules("runner/src/contract.ts").map((name) => path.join("runner/src", name));
    expect(reexported.map((m) => m.replace(/\.js$/, ".ts")).sort()).toEqual([...CONTRACT_PARTS].sort());
  });

  it("are every runner module the Pulumi program imports, and sit beside each other in runner/src", () => {
    // Recursive: components/ holds a folder per area.
    const components = readdirSync("components", { recursive: true, encoding: "utf8" }).map((f) => `components/${f}`);
    const program = ["index.ts", ...components].filter((f) => f.endsWith(".ts"));
    expect(program).toContain("components/schedule/runner-env.ts");
    const fromRunner = new Set<string>();
    for (const file of program)
      for (const name of importedModules(file).filter((n) => n.startsWith(".")))
        fromRunner.add(path.relative(".", path.resolve(path.dirname(file), name)).replace(/\.js$/, ".ts"));
    const runnerModules = [...fromRunner].filter((f) => f.startsWith("runner/"));
    expect(runnerModules.sort()).toEqual([...CONTRACT_MODULES].sort());
    for (const module of CONTRACT_MODULES) expect(path.dirname(module)).toBe("runner/src");
  });

  it("the import parser sees every form of import (so the check above cannot pass by missing one)", () => {
    const text = [
      'import { a } from "./a.js";',
      'import type { B } from "./b.js";',
      'export * from "./c.js";',
      'export { d } from "./d.js";',
      'import "./e.js";',
      'const f = await import("./f.js");',
      'const g = require("./g.js");',
    ].join("\n");
    const names = ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);
    expect(names.sort()).toEqual(["./a.js", "./b.js", "./c.js", "./d.js", "./e.js", "./f.js", "./g.js"]);
  });
});

describe("the contract's tier lists follow TIERS", () => {
  const tierList = fc.uniqueArray(fc.constantFrom(...TIERS), { minLength: 1 });

  it("STATUS_TIERS accepts every list of tiers and nothing else", () => {
    fc.assert(
      fc.property(tierList, (tiers) => {
        expect(runnerEnvSchema.shape.STATUS_TIERS.safeParse(tiers.join(",")).success).toBe(true);
      }),
    );
    fc.assert(
      fc.property(tierList, fc.string({ minLength: 1 }), (tiers, other) => {
        fc.pre(!(TIERS as readonly string[]).includes(other));
        const value = [...tiers, other].join(",");
        expect(runnerEnvSchema.shape.STATUS_TIERS.safeParse(value).success).toBe(false);
      }),
    );
    for (const bad of ["", ",daily", "daily,", "daily,,weekly", "Daily", "daily weekly", "hourly"]) {
      expect(runnerEnvSchema.shape.STATUS_TIERS.safeParse(bad).success, bad).toBe(false);
    }
  });

  it("STATUS_INTERVAL_HOURS accepts tier=hours for every tier and rejects other names", () => {
    fc.assert(
      fc.property(
        tierList,
        fc.array(fc.integer({ min: 1, max: 10_000 }), { minLength: 4, maxLength: 4 }),
        (tiers, hours) => {
          const value = tiers.map((t, i) => `${t}=${hours[i]}`).join(",");
          expect(runnerEnvSchema.shape.STATUS_INTERVAL_HOURS.safeParse(value).success).toBe(true);
        },
      ),
    );
    for (const bad of ["daily", "daily=", "hourly=1", "daily=1,", "daily=1.", "daily=-1", "daily=1;weekly=2"]) {
      expect(runnerEnvSchema.shape.STATUS_INTERVAL_HOURS.safeParse(bad).success, bad).toBe(false);
    }
    expect(runnerEnvSchema.shape.STATUS_INTERVAL_HOURS.safeParse("daily=12.5,adhoc=3").success).toBe(true);
  });
});

describe("the content store's names (MEDIA_FORMAT=store)", () => {
  it("an object's key is under store/objects/, fanned out by its first two hex digits, and reads back", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[0-9a-f]{64}$/), fc.boolean(), (name, encrypted) => {
        const key = storeObjectKey(name, encrypted);
        expect(key.startsWith(STORE_OBJECTS_PREFIX)).toBe(true);
        const m = STORE_OBJECT_KEY_RE.exec(key);
        expect(m?.groups?.name).toBe(name);
        expect(m?.groups?.age !== undefined).toBe(encrypted);
      }),
    );
    // A key whose folder does not match its name, or anything else under the prefix, is not an object.
    for (const bad of [
      `store/objects/ab/cd${"0".repeat(62)}`,
      `store/objects/ab/ab${"0".repeat(61)}`,
      `store/objects/ab/ab${"0".repeat(62)}.tmp`,
      `daily/store/objects/ab/ab${"0".repeat(62)}`,
    ])
      expect(STORE_OBJECT_KEY_RE.test(bad), bad).toBe(false);
  });

  it("MEDIA_STORE_KEY must be long enough to be a secret; MEDIA_FORMAT is tar or store", () => {
    expect(runnerEnvSchema.shape.MEDIA_STORE_KEY.safeParse("short").success).toBe(false);
    expect(runnerEnvSchema.shape.MEDIA_STORE_KEY.safeParse("k".repeat(32)).success).toBe(true);
    expect(runnerEnvSchema.shape.MEDIA_FORMAT.safeParse("store").success).toBe(true);
    expect(runnerEnvSchema.shape.MEDIA_FORMAT.safeParse("zip").success).toBe(false);
  });
});
