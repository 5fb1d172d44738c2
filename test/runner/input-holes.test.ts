// Settings that used to slip through as something else (issue 21, "smaller holes"): an empty
// ENCRYPTION_RECIPIENTS read as "no encryption", and a STATUS_FIRST_RUNS decades ahead keeping a
// tier quietly "pending". Each is bad input: exit 2, one message naming the variable, nothing written.
import { mkdtemp, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { loadBackupSettings } from "../../runner/src/settings/config.js";
import { runnerEnvSchema, TIERS, type Tier } from "../../runner/src/contract.js";
import { ConfigError } from "../../runner/src/errors.js";
import { firstRunProblems, statusSettingsFromEnv } from "../../runner/src/catalog/staleness.js";
import { runRunner } from "../helpers/runner-cli.js";

const HOUR = 3_600_000;
const good = {
  BACKUP_DESTINATION: "s3://edms-backups/prod",
  BACKUP_TIER: "daily",
  DATABASE_URL: "postgres://app:s3cret@db:5432/edms",
  MEDIA_DIR: "/media",
};

describe("ENCRYPTION_RECIPIENTS set but empty", () => {
  it("is bad input for any blank value (never read as 'unset', which would mean plaintext)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(" ", "\t", "\n")).map((a) => a.join("")),
        (blank) => {
          let refused: ConfigError | undefined;
          try {
            loadBackupSettings({ processEnv: { ...good, ENCRYPTION_RECIPIENTS: blank }, overrides: {}, isTty: false });
          } catch (error) {
            if (!(error instanceof ConfigError)) throw error;
            refused = error;
          }
          expect(refused?.problems).toHaveLength(1);
          expect(refused?.problems[0]).toMatch(/^ENCRYPTION_RECIPIENTS \(--encrypt-to\): is set but empty.*plaintext/);
        },
      ),
    );
  });

  it("the CLI exits 2 naming it and stores nothing", async () => {
    const dest = await mkdtemp(path.join(tmpdir(), "edms-empty-recipients-"));
    const result = await runRunner(["backup", "--tier", "daily"], {
      BACKUP_DESTINATION: `file://${dest}`,
      DATABASE_URL: "postgres://app@127.0.0.1:1/edms",
      MEDIA_DIR: "/nonexistent",
      ENCRYPTION_RECIPIENTS: "",
    });
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toContain("ENCRYPTION_RECIPIENTS (--encrypt-to): is set but empty");
    expect(await readdir(dest)).toEqual([]);
  });
});

describe("STATUS_FIRST_RUNS far in the future", () => {
  const now = new Date("2026-12-07T03:00:00.000Z");
  const scheduled = fc.constantFrom<Exclude<Tier, "adhoc">>("daily", "weekly", "monthly");

  function settingsFor(name: string, at: Date, graceHours: number) {
    const env = runnerEnvSchema.parse({
      STATUS_GRACE_HOURS: String(graceHours),
      STATUS_FIRST_RUNS: `${name}=${at.toISOString()}`,
      STATUS_DRILL_MAX_AGE_HOURS: "192",
    });
    return statusSettingsFromEnv(env);
  }

  it("is refused exactly when it lies past now + the tier's interval + grace (any tier, any grace, any offset)", () => {
    fc.assert(
      fc.property(
        fc.oneof(scheduled, fc.constant("drill" as const)),
        fc.integer({ min: 1, max: 72 }),
        fc.integer({ min: -400 * 24, max: 100 * 365 * 24 }),
        (name, graceHours, offsetHours) => {
          const at = new Date(now.getTime() + offsetHours * HOUR);
          const settings = settingsFor(name, at, graceHours);
          const interval = name === "drill" ? 192 : settings.intervalHours[name]!;
          const problems = firstRunProblems(settings, now);
          if (offsetHours > interval + graceHours) {
            expect(problems).toHaveLength(1);
            expect(problems[0]).toContain(`STATUS_FIRST_RUNS: ${name}=${at.toISOString()} is later than`);
          } else expect(problems).toEqual([]);
        },
      ),
    );
  });

  it("adhoc has no schedule, so its entry is never judged", () => {
    for (const tier of TIERS.filter((t) => t === "adhoc"))
      expect(firstRunProblems(settingsFor(tier, new Date("2090-01-01T00:00:00.000Z"), 6), now)).toEqual([]);
  });

  it("`status` exits 2 naming the entry instead of reporting PENDING for decades", async () => {
    const root = await mkdtemp(path.join(tmpdir(), "edms-first-runs-"));
    const result = await runRunner(["status", "--json"], {
      BACKUP_DESTINATION: `file://${root}`,
      STATUS_TIERS: "daily",
      STATUS_FIRST_RUNS: "daily=2066-01-11T18:00:00.000Z",
    });
    expect(result.code, result.stdout).toBe(2);
    expect(result.stderr).toContain("STATUS_FIRST_RUNS: daily=2066-01-11T18:00:00.000Z is later than");
    expect(result.stdout).not.toContain("pending");
  });
});
