// One table (runner/src/contract/tiers.ts) holds every tier fact; everything else derives from it,
// so adding a tier is one row. This test reads the product's source and fails where a tier name is
// written as code anywhere else: a message listing tiers, a default list, a special case. Comments
// may name tiers; a string literal or an identifier may not, except the few listed (with why).
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_DRILL_TIERS,
  DEFAULT_RETENTION_DAYS,
  DEFAULT_SCHEDULES,
  DEFAULT_STATUS_TIERS,
  retentionEnvName,
  runnerEnvSchema,
  SCHEDULE_INTERVAL_HOURS,
  SCHEDULED_TIERS,
  TIER_TABLE,
  TIERS,
} from "../../runner/src/contract.js";
import { firstRunsEnv } from "../../components/schedule/first-deploy.js";

const root = path.join(__dirname, "..", "..");
const TABLE_FILE = "runner/src/contract/tiers.ts";
/**
 * The product's code: what the runner, the Pulumi program and check-config run. Not bench/ nor the
 * demo and capture scripts: they run the runner as a person would, with tiers of their choice.
 */
const SOURCES = ["runner/src", "components", "index.ts", "scripts/check-config.ts"];

/** Where a tier name written in code is not a tier fact: file, the exact text, why. */
const ALLOWED: Array<[file: string, text: string, why: string]> = [
  // The stack config key monthlyTransition is a public interface (every stack file names it) that
  // means "the monthly tier's sets move to another storage class": its checks name the tier too.
  ["components/config/stack-config.ts", "monthlyTransition", "a stack config key"],
  ["components/config/stack-config.ts", "monthly", "retentionDays.monthly, checked against the key"],
  ["components/config/stack-config.ts", ") must be less than retentionDays.monthly (", "that check's message"],
  ["components/storage/bucket-rules.ts", "monthlyTransition", "the stack config key, passed through"],
  ["components/storage/bucket-rules.ts", "monthly", "the tier the key applies to (typed Tier)"],
  [
    "components/storage/bucket-rules.ts",
    "the monthly transition must happen before the monthly backups expire",
    "the key's check",
  ],
  ["components/storage/backup-bucket.ts", "monthlyTransition", "the stack config key, passed through"],
  ["components/stack/stack-values.ts", "monthlyTransition", "the stack config key, passed through"],
  // The stack output that starts an ad-hoc backup is public; its field is filled from MANUAL_TIER.
  ["components/schedule/operator-commands.ts", "adhocCronJob", "the field behind a stack output"],
  ["components/schedule/operator-commands.ts", "startAdhocBackup", "a stack output's key (public)"],
  ["index.ts", "adhocCronJob", "the field above"],
];

const TIER_WORD = new RegExp(`\\b(${TIERS.join("|")})\\b`, "i");
const TIER_PART = new RegExp(TIERS.join("|"), "i");

function sourceFiles(entry: string): string[] {
  const full = path.join(root, entry);
  if (statSync(full).isFile()) return [entry];
  return readdirSync(full, { recursive: true, encoding: "utf8" })
    .filter((name) => /\.(ts|mts)$/.test(name) && !name.includes("node_modules"))
    .map((name) => path.join(entry, name).split(path.sep).join("/"));
}

/** Every string piece and identifier in `file` that names a tier, as [file, text]. */
function tierMentions(file: string): Array<[string, string]> {
  const text = readFileSync(path.join(root, file), "utf8");
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: Array<[string, string]> = [];
  const visit = (node: ts.Node): void => {
    if (
      (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node) || ts.isTemplateLiteralToken(node)) &&
      TIER_WORD.test(node.text)
    )
      found.push([file, node.text]);
    else if ((ts.isIdentifier(node) || ts.isPrivateIdentifier(node)) && TIER_PART.test(node.text))
      found.push([file, node.text]);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe("the tier table", () => {
  it("is the only place in the product's code that names a tier", () => {
    const files = SOURCES.flatMap(sourceFiles).filter((file) => file !== TABLE_FILE);
    expect(files.length).toBeGreaterThan(100);
    const allowed = new Set(ALLOWED.map(([file, text]) => `${file}\t${text}`));
    const stray = files
      .flatMap(tierMentions)
      .map(([file, text]) => `${file}\t${text}`)
      .filter((mention) => !allowed.has(mention));
    expect([...new Set(stray)]).toEqual([]);
  });

  it("lists no allowance that no longer matches anything", () => {
    const mentions = new Set(ALLOWED.flatMap(([file]) => tierMentions(file)).map(([file, text]) => `${file}\t${text}`));
    expect(ALLOWED.filter(([file, text]) => !mentions.has(`${file}\t${text}`))).toEqual([]);
  });

  it("is what the defaults, the lists and the env names come from", () => {
    expect(TIERS).toEqual(Object.keys(TIER_TABLE));
    for (const tier of TIERS) {
      const row = TIER_TABLE[tier];
      expect(DEFAULT_RETENTION_DAYS[tier]).toBe(row.retentionDays);
      expect(SCHEDULE_INTERVAL_HOURS[tier]).toBe(row.schedule?.intervalHours ?? null);
      expect(SCHEDULED_TIERS.includes(tier as never)).toBe(row.schedule !== null);
      expect(runnerEnvSchema.shape[retentionEnvName(tier)].parse("3")).toBe(3);
    }
    for (const tier of SCHEDULED_TIERS) expect(DEFAULT_SCHEDULES[tier]).toBe(TIER_TABLE[tier].schedule.cron);
    expect(DEFAULT_STATUS_TIERS).toEqual(SCHEDULED_TIERS);
    expect(DEFAULT_DRILL_TIERS).toEqual(SCHEDULED_TIERS);
  });

  it("orders the first runs the stack writes as it orders the tiers, the drill last", () => {
    const every = Object.fromEntries([...[...SCHEDULED_TIERS].reverse(), "drill"].map((name) => [name, "0 2 * * *"]));
    const names = firstRunsEnv(every, "UTC", new Date("2026-01-11T00:00:00Z"))
      .split(",")
      .map((pair) => pair.split("=")[0]);
    expect(names).toEqual([...SCHEDULED_TIERS, "drill"]);
  });
});
