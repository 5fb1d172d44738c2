// The restore plan (issue 14, item 2): which parts a restore touches is decided once, from what the
// set holds, --database-only/--media-only and the settings. Generated over every combination:
// a part is planned exactly when the set holds it and it was not excluded; a planned part without
// its target is bad input naming every missing setting; excluding the only part the set holds is
// bad input too; the media target is the resolved folder, never the string given.
import { mkdir, mkdtemp, realpath, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import type { CompleteBackupSet } from "../../runner/src/catalog/catalog.js";
import { describeRestore, planRestore } from "../../runner/src/commands/restore.js";
import type { RestoreSettings } from "../../runner/src/settings/config.js";
import { RunnerError } from "../../runner/src/errors.js";
import type { PgConnection } from "../../runner/src/pg/connection.js";

let mediaLink: string;
let mediaReal: string;

beforeAll(async () => {
  const root = await mkdtemp(path.join(tmpdir(), "edms-plan-"));
  mediaReal = path.join(await realpath(root), "real-media");
  mediaLink = path.join(root, "media");
  await mkdir(mediaReal);
  await symlink(mediaReal, mediaLink);
});

// Entries are passed through untouched: markers are enough to see which one went where.
const dbEntry = { marker: "database entry" };
const mediaEntry = { marker: "media entry" };
const connection = { display: "postgres://db.example:5432/app" } as unknown as PgConnection;

function setHolding(database: boolean, media: boolean): CompleteBackupSet {
  return {
    tier: "daily",
    backupId: "20261127T000000Z-abcd",
    manifest: {
      startedAt: "2026-11-27T00:00:00Z",
      database: database ? dbEntry : null,
      media: media ? mediaEntry : null,
    },
  } as unknown as CompleteBackupSet;
}

const cases = fc.record({
  setDatabase: fc.boolean(),
  setMedia: fc.boolean(),
  only: fc.constantFrom<"database" | "media" | undefined>(undefined, "database", "media"),
  hasDatabaseUrl: fc.boolean(),
  hasMediaDir: fc.boolean(),
});

describe("planRestore", () => {
  it("plans exactly the parts the set holds and the operator kept, or names every problem (exit 2)", async () => {
    await fc.assert(
      fc.asyncProperty(cases, async (c) => {
        fc.pre(c.setDatabase || c.setMedia);
        const settings = {
          database: c.hasDatabaseUrl ? connection : undefined,
          targetDatabase: c.hasDatabaseUrl ? "app" : undefined,
          mediaDir: c.hasMediaDir ? mediaLink : undefined,
        } as unknown as RestoreSettings;
        const wanted = { databaseOnly: c.only === "database", mediaOnly: c.only === "media" };
        const database = c.setDatabase && c.only !== "media";
        const media = c.setMedia && c.only !== "database";
        const missing = [
          database && !c.hasDatabaseUrl ? "DATABASE_URL" : undefined,
          media && !c.hasMediaDir ? "MEDIA_DIR" : undefined,
        ].filter(Boolean);
        const excludedAll = (c.only === "database" && !c.setDatabase) || (c.only === "media" && !c.setMedia);

        const outcome = await planRestore(setHolding(c.setDatabase, c.setMedia), wanted, settings).then(
          (plan) => ({ plan }),
          (error: unknown) => ({ error }),
        );
        if (missing.length || excludedAll) {
          expect("error" in outcome, JSON.stringify(c)).toBe(true);
          const error = (outcome as { error: RunnerError }).error;
          expect(error).toBeInstanceOf(RunnerError);
          expect(error.exitCode).toBe(2);
          for (const name of missing) expect(error.message).toContain(name);
          return;
        }
        expect("plan" in outcome, JSON.stringify(c)).toBe(true);
        const { plan } = outcome as { plan: Awaited<ReturnType<typeof planRestore>> };
        expect(plan.database && { entry: plan.database.entry, target: plan.database.target }).toEqual(
          database ? { entry: dbEntry, target: "app" } : undefined,
        );
        expect(plan.media && { entry: plan.media.entry, dir: plan.media.dir, link: plan.media.link }).toEqual(
          media ? { entry: mediaEntry, dir: mediaReal, link: mediaLink } : undefined,
        );
        // The question names what the plan replaces, and nothing else.
        const question = describeRestore(setHolding(c.setDatabase, c.setMedia), plan);
        expect(question.includes(`database "app"`)).toBe(database);
        expect(question.includes(`media folder ${mediaReal} (the target of the link ${mediaLink}`)).toBe(media);
      }),
      { numRuns: 200 },
    );
  });
});

describe("the restore question", () => {
  it("names the chosen set's tier, when it was taken and how long ago (issue 26: latest at 3 a.m.)", async () => {
    const set = setHolding(true, false);
    const plan = await planRestore(set, {}, {
      database: connection,
      targetDatabase: "app",
    } as unknown as RestoreSettings);
    const question = describeRestore(set, plan, new Date("2026-11-27T05:30:00Z"));
    expect(question).toContain("the daily backup daily/20261127T000000Z-abcd, taken 2026-11-27T00:00:00Z (5h 30m ago)");
    const adhoc = { ...set, tier: "adhoc" } as CompleteBackupSet;
    expect(describeRestore(adhoc, plan, new Date("2026-11-29T00:00:00Z"))).toContain("the adhoc backup adhoc/");
    expect(describeRestore(adhoc, plan, new Date("2026-11-29T00:00:00Z"))).toContain("(2d 00h ago)");
  });
});
