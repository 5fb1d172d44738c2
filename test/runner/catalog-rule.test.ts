// One rule for "the newest set" (issue 21 item 5, issue 26 item 2): list, status, prune, `latest`
// and the drill's rotation agree with an oracle written here from the rule's words, over generated
// destinations: random tiers, ids, times up to months in the future, incomplete and damaged sets.
// The rule: complete, not dated more than 5 minutes ahead, newest by id; `latest` without a tier
// takes the scheduled tiers only. And prune never changes what `latest` restores.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { newBackupId } from "../../runner/src/catalog/backup-id.js";
import { listBackupSets, newestCompleteSets, resolveBackup } from "../../runner/src/catalog/catalog.js";
import { listEntries } from "../../runner/src/commands/list.js";
import { runPrune } from "../../runner/src/commands/prune.js";
import { DEFAULT_RETENTION_DAYS, SCHEDULED_TIERS, TIERS, type Tier } from "../../runner/src/contract.js";
import { selectForPrune } from "../../runner/src/catalog/retention.js";
import { assessStatus } from "../../runner/src/catalog/staleness.js";
import { FileStore } from "../../runner/src/store/file-store.js";
import { craftSet } from "../helpers/craft-set.js";

const DAY = 86_400_000;

interface Generated {
  tier: Tier;
  id: string;
  kind: "complete" | "no-manifest" | "damaged";
}

const generatedSet = (now: number) =>
  fc
    .record({
      tier: fc.constantFrom(...TIERS),
      // Up to 60 days back, up to 90 days ahead; a few within the 5-minute skew either side.
      offsetMs: fc.oneof(
        fc.integer({ min: -60 * DAY, max: 90 * DAY }),
        fc.integer({ min: -10 * 60_000, max: 10 * 60_000 }),
      ),
      suffix: fc.stringMatching(/^[0-9a-f]{4}$/),
      kind: fc.constantFrom<Generated["kind"]>("complete", "complete", "complete", "no-manifest", "damaged"),
    })
    .map(({ tier, offsetMs, suffix, kind }): Generated => ({
      tier,
      id: newBackupId(new Date(now + offsetMs), () => suffix),
      kind,
    }));

/** The oracle: the newest complete set of `tiers` whose id is at most 5 minutes ahead of now. */
function oracle(sets: readonly Generated[], now: number, tiers: readonly Tier[]): string | undefined {
  const stamp = (id: string) => {
    const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z/.exec(id)!;
    return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
  };
  const usable = sets
    .filter((s) => tiers.includes(s.tier) && s.kind === "complete" && stamp(s.id) <= now + 5 * 60_000)
    .map((s) => `${s.tier}/${s.id}`)
    .sort((a, b) => (a.split("/")[1]! < b.split("/")[1]! ? -1 : 1));
  return usable.at(-1);
}

async function write(root: string, sets: readonly Generated[]): Promise<void> {
  const media = { archive: Buffer.from("x"), files: 1, sourceBytes: 1 };
  for (const s of sets) {
    if (s.kind === "complete") await craftSet(root, s.tier, s.id, { media });
    else {
      await mkdir(path.join(root, s.tier, s.id), { recursive: true });
      await writeFile(path.join(root, s.tier, s.id, "storage.tar.gz"), "partial");
      if (s.kind === "damaged") await writeFile(path.join(root, s.tier, s.id, "manifest.json"), "{ not json");
    }
  }
}

const destination = fc
  .uniqueArray(generatedSet(Date.now()), { selector: (s) => `${s.id}`, minLength: 1, maxLength: 12 })
  .filter((sets) => sets.length > 0);

describe("the one rule for the newest set", () => {
  it("list, status, prune, latest (with and without a tier) and the drill's per-tier pick agree with the oracle", async () => {
    await fc.assert(
      fc.asyncProperty(destination, async (sets) => {
        const root = await mkdtemp(path.join(tmpdir(), "edms-rule-"));
        try {
          await write(root, sets);
          const store = new FileStore(root);
          const now = new Date();
          const at = now.getTime();
          const all = await listBackupSets(store);
          const name = (s: { tier: Tier; backupId: string } | undefined) => s && `${s.tier}/${s.backupId}`;

          // latest without a tier: the scheduled tiers only; with one: that tier.
          const expectLatest = oracle(sets, at, SCHEDULED_TIERS);
          const latest = await resolveBackup(store, "latest", undefined, now).catch(() => undefined);
          expect(name(latest)).toBe(expectLatest);
          for (const tier of TIERS) {
            const perTier = oracle(sets, at, [tier]);
            const got = await resolveBackup(store, "latest", tier, now).catch(() => undefined);
            expect(name(got), tier).toBe(perTier);
            // What the drill's rotation takes for the tier, and status's newest.
            expect(name((await newestCompleteSets(store, tier, now))[0]), tier).toBe(perTier);
            const status = assessStatus(now, all, {
              tiers: [tier],
              intervalHours: { daily: 24, weekly: 168, monthly: 744, adhoc: null },
              graceHours: 6,
            });
            expect(status.tiers[0]!.newestBackupId && `${tier}/${status.tiers[0]!.newestBackupId}`, tier).toBe(perTier);
            // list marks the newest of each tier, and `latest` exactly once (or never).
            const entries = listEntries(all, now);
            expect(name(entries.find((e) => e.tier === tier && e.newestOfTier))).toBe(perTier);
            expect(name(listEntries(all, now, tier).find((e) => e.latest))).toBe(perTier);
          }
          expect(name(listEntries(all, now).find((e) => e.latest))).toBe(expectLatest);
          expect(listEntries(all, now).filter((e) => e.latest).length).toBe(expectLatest ? 1 : 0);

          // prune keeps every tier's newest, and deletes nothing `latest` would then miss.
          const short = { daily: 1, weekly: 1, monthly: 1, adhoc: 1 };
          for (const d of selectForPrune(now, all, short))
            if (d.action === "delete") expect(oracle(sets, at, [d.set.tier])).not.toBe(name(d.set));
          await runPrune(store, { retentionDays: short, dryRun: false, now });
          expect(name(await resolveBackup(store, "latest", undefined, now).catch(() => undefined))).toBe(expectLatest);
          for (const tier of TIERS)
            expect(name(await resolveBackup(store, "latest", tier, now).catch(() => undefined))).toBe(
              oracle(sets, at, [tier]),
            );
        } finally {
          await rm(root, { recursive: true, force: true });
        }
      }),
      { numRuns: 40 },
    );
  });

  it("the issue's case: a daily dated next year does not let prune delete the only daily `latest` can use", async () => {
    const root = await mkdtemp(path.join(tmpdir(), "edms-rule-"));
    const now = new Date();
    const old = newBackupId(new Date(now.getTime() - 30 * DAY), () => "aaaa");
    const future = newBackupId(new Date(now.getTime() + 365 * DAY), () => "ffff");
    await write(root, [
      { tier: "daily", id: old, kind: "complete" },
      { tier: "daily", id: future, kind: "complete" },
    ]);
    const store = new FileStore(root);
    const report = await runPrune(store, { retentionDays: { ...DEFAULT_RETENTION_DAYS }, dryRun: false, now });
    expect(report.sets.map((s) => [s.backupId, s.action])).toEqual([
      [old, "kept"],
      [future, "kept"],
    ]);
    expect(report.sets[1]!.reason).toMatch(/dated in the future/);
    expect((await resolveBackup(store, "latest", undefined, now)).backupId).toBe(old);
  });

  it("`latest` never picks an ad-hoc set without --tier adhoc, and says how to take one", async () => {
    const root = await mkdtemp(path.join(tmpdir(), "edms-rule-"));
    const now = new Date();
    const daily = newBackupId(new Date(now.getTime() - DAY), () => "aaaa");
    const adhoc = newBackupId(new Date(now.getTime() - 60_000), () => "bbbb");
    await write(root, [
      { tier: "daily", id: daily, kind: "complete" },
      { tier: "adhoc", id: adhoc, kind: "complete" },
    ]);
    const store = new FileStore(root);
    expect((await resolveBackup(store, "latest")).backupId).toBe(daily);
    expect((await resolveBackup(store, "latest", "adhoc")).backupId).toBe(adhoc);
    expect((await resolveBackup(store, adhoc)).tier).toBe("adhoc");
    const onlyAdhoc = await mkdtemp(path.join(tmpdir(), "edms-rule-"));
    await write(onlyAdhoc, [{ tier: "adhoc", id: adhoc, kind: "complete" }]);
    await expect(resolveBackup(new FileStore(onlyAdhoc), "latest")).rejects.toThrow(
      `never picks an ad-hoc set: restore adhoc/${adhoc} by its id, or pass --tier adhoc`,
    );
  });
});
