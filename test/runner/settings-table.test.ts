// The settings table (runner/src/settings/settings-table.ts) against everything that repeats its
// facts: the commander options (their flags and "env NAME" help), the "NAME (--flag)" labels written
// by hand in messages, and README's configuration table (names, flags, defaults). Each fails when
// one side is changed without the other.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { buildProgram } from "../../runner/src/cli.js";
import { runnerEnvShape, type RunnerEnvName } from "../../runner/src/contract.js";
import { settingLabel, SETTINGS } from "../../runner/src/settings/settings-table.js";

const root = path.join(__dirname, "..", "..");
const names = Object.keys(SETTINGS) as RunnerEnvName[];
/** Variables README documents that the runner's output code reads itself, outside the contract. */
const OUTSIDE_CONTRACT = ["NO_COLOR", "COLUMNS"];

describe("the settings table", () => {
  it("has one row per variable of the contract", () => {
    expect(names.sort()).toEqual(Object.keys(runnerEnvShape).sort());
  });

  it("gives each flag the commander options offer, on exactly those commands", () => {
    const offered: string[] = [];
    for (const command of buildProgram().commands)
      for (const option of command.options) {
        const env = /\benv ([A-Z][A-Z0-9_]+)/.exec(option.description)?.[1];
        if (env) offered.push(`${command.name()} ${option.long} ${env}`);
      }
    const table = names.flatMap((name) =>
      [SETTINGS[name].flag, SETTINGS[name].switch].flatMap((flag) =>
        flag ? flag.commands.map((command) => `${command} ${flag.name} ${name}`) : [],
      ),
    );
    expect(offered.sort()).toEqual(table.sort());
  });

  it("agrees with every 'NAME (--flag)' label written by hand", () => {
    const dir = path.join(root, "runner/src");
    const files = readdirSync(dir, { recursive: true, encoding: "utf8" }).filter(
      (f) => f.endsWith(".ts") && f !== path.join("settings", "settings-table.ts"),
    );
    const labels: string[] = [];
    for (const file of files) {
      const text = readFileSync(path.join(dir, file), "utf8");
      for (const m of text.matchAll(/\b([A-Z][A-Z0-9_]{2,}) \((--[a-z][a-z-]*)\)/g)) labels.push(`${m[1]} (${m[2]})`);
      // "A and B (--a, --b)", "A or B (--a, --b)"
      for (const m of text.matchAll(
        /\b([A-Z][A-Z0-9_]{2,}) (?:and|or) ([A-Z][A-Z0-9_]{2,}) \((--[a-z-]+), (--[a-z-]+)\)/g,
      ))
        labels.push(`${m[1]} (${m[3]})`, `${m[2]} (${m[4]})`);
    }
    expect(labels.length).toBeGreaterThan(3); // the patterns still find the ones left
    const wrong = labels.filter((label) => {
      const name = label.slice(0, label.indexOf(" ")) as RunnerEnvName;
      return !(name in SETTINGS) || settingLabel(name) !== label;
    });
    expect([...new Set(wrong)]).toEqual([]);
  });

  describe("README's configuration table", () => {
    const readme = readFileSync(path.join(root, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("### Configuration (environment"));
    const rows = section
      .slice(0, section.indexOf("\n\n", section.indexOf("| --- |")))
      .split("\n")
      .filter((line) => line.startsWith("| `"))
      .map((line) => {
        const [, variables, flags, ...rest] = line.split("|");
        const meaning = rest.join("|");
        return {
          line,
          names: [...variables!.matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((m) => m[1]!),
          flags: [...flags!.matchAll(/`(?:[a-z-]+ )?(--[a-z0-9-]+)`/g)].map((m) => m[1]!),
          meaning,
        };
      });

    it("names every setting, and nothing the table lacks", () => {
      const documented = rows.flatMap((row) => row.names);
      expect(names.filter((name) => !documented.includes(name))).toEqual([]);
      expect(documented.filter((name) => !(name in SETTINGS) && !OUTSIDE_CONTRACT.includes(name))).toEqual([]);
    });

    it("gives each row the flags of its settings", () => {
      for (const row of rows) {
        const settings = row.names.filter((name) => name in SETTINGS).map((name) => SETTINGS[name as RunnerEnvName]);
        const flags = settings.flatMap((s) => (s.flag ? [s.flag.name] : []));
        const switches = settings.flatMap((s) => (s.switch ? [s.switch.name] : []));
        expect(
          flags.filter((flag) => !row.flags.includes(flag)),
          row.line,
        ).toEqual([]);
        expect(
          row.flags.filter((flag) => !flags.includes(flag) && !switches.includes(flag)),
          row.line,
        ).toEqual([]);
      }
    });

    it("states each default the runner applies", () => {
      const unstated: string[] = [];
      for (const row of rows)
        for (const name of row.names) {
          const value = SETTINGS[name as RunnerEnvName]?.default;
          if (value === undefined) continue;
          const escaped = value.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
          const stated = new RegExp(`(^|[^\\w.:])${escaped}($|[^\\w.:])`);
          if (!/default/i.test(row.meaning) || !stated.test(row.meaning)) unstated.push(`${name}: default ${value}`);
        }
      expect(unstated).toEqual([]);
    });
  });
});
