// gc's mark over many sets, in process on a generated file:// store: whatever the sets are (any
// tier, complete or still without a manifest, overlapping or not, naming objects the store does
// not hold), an object named by any one list survives every gc, and exactly the objects no list
// names are recorded as candidates and then deleted. The mark lives in the store listing's catalog
// (one flag per listed object), so this is what a mix-up of flags, positions or sets would break.
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { runGc, type GcReport } from "../../runner/src/commands/gc.js";
import { TIERS } from "../../runner/src/contract.js";
import { createLogger } from "../../runner/src/output/logger.js";
import { FileStore } from "../../runner/src/store/file-store.js";
import {
  generatedBackupId,
  generatedKey,
  writeObjects,
  writeSet,
  type GeneratedSet,
} from "../helpers/generated-store.js";

const log = createLogger({ format: "json", level: "warn", destination: new Writable({ write: (_c, _e, cb) => cb() }) });

async function storedKeys(dest: string): Promise<string[]> {
  const out: string[] = [];
  // The folder goes with its last object.
  const entries = await readdir(path.join(dest, "store", "objects"), { recursive: true, withFileTypes: true }).catch(
    () => [],
  );
  for (const e of entries) if (e.isFile()) out.push(path.relative(dest, path.join(e.parentPath, e.name)));
  return out.sort();
}

const gc = (dest: string, dryRun = false): Promise<GcReport> =>
  runGc(new FileStore(dest), { graceHours: 0, dryRun, log });

/** Stores `stored`, writes `sets`, runs gc (records candidates), a dry run, and gc (deletes them). */
async function collect(stored: string[], sets: GeneratedSet[]) {
  const dest = await mkdtemp(path.join(tmpdir(), "edms-gc-mark-"));
  try {
    await writeObjects(dest, stored);
    for (const set of sets) await writeSet(dest, set);
    const first = await gc(dest);
    const dry = await gc(dest, true);
    const second = await gc(dest);
    return { first, dry, second, left: await storedKeys(dest) };
  } finally {
    await rm(dest, { recursive: true, force: true });
  }
}

const keysOf = (cs: Array<{ key: string }>) => cs.map((c) => c.key).sort();

describe("gc's mark", () => {
  it("keeps an object that only one set names, whichever set that is; deletes exactly the rest", async () => {
    const shared = [0, 1, 2].map((i) => generatedKey(i));
    const only = [10, 11, 12, 13].map((i) => generatedKey(i, i % 2 === 1));
    const unreferenced = [20, 21].map((i) => generatedKey(i));
    const sets: GeneratedSet[] = [
      { tier: "daily", backupId: generatedBackupId(1), keys: [...shared, only[0]!], complete: true },
      { tier: "weekly", backupId: generatedBackupId(2), keys: [only[1]!, ...shared], complete: true },
      { tier: "monthly", backupId: generatedBackupId(3), keys: [only[2]!], complete: true },
      // A backup that stored its list and no manifest (running, or died there).
      { tier: "daily", backupId: generatedBackupId(4), keys: [only[3]!, shared[0]!], complete: false },
    ];
    const { first, second, left } = await collect([...shared, ...only, ...unreferenced], sets);
    expect(first.deleted.objects).toBe(0);
    expect(keysOf(first.candidates)).toEqual([...unreferenced].sort());
    expect(first.store).toEqual({ objects: 9, bytes: 72, referenced: 7 });
    expect(first.sets.marked).toBe(4);
    expect(second.deleted).toEqual({ objects: 2, bytes: 16 });
    expect(left).toEqual([...shared, ...only].sort());
  });

  it("frees exactly the stored objects no list names, over generated sets and lists", async () => {
    const set = fc.record({
      tier: fc.constantFrom(...TIERS),
      complete: fc.boolean(),
      // Indices into the objects; some beyond the stored ones (a list naming an object gc never listed).
      refs: fc.array(fc.nat({ max: 59 }), { maxLength: 30 }),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 50 }),
        fc.array(set, { minLength: 1, maxLength: 5 }),
        fc.boolean(),
        async (count, generated, encrypted) => {
          const key = (i: number) => generatedKey(i, encrypted && i % 3 === 0);
          const stored = Array.from({ length: count }, (_, i) => key(i));
          const sets = generated.map((s, n) => ({
            tier: s.tier,
            backupId: generatedBackupId(n),
            keys: s.refs.map(key),
            complete: s.complete,
          }));
          const named = new Set(sets.flatMap((s) => s.keys));
          const kept = stored.filter((k) => named.has(k)).sort();
          const freed = stored.filter((k) => !named.has(k)).sort();
          const { first, dry, second, left } = await collect(stored, sets);
          expect(keysOf(first.candidates)).toEqual(freed);
          expect(first.store.referenced).toBe(kept.length);
          expect(keysOf(dry.wouldDelete)).toEqual(freed);
          expect(second.deleted.objects).toBe(freed.length);
          expect(second.candidates).toEqual([]);
          expect(left).toEqual(kept);
        },
      ),
      { numRuns: 25 },
    );
  });
});
