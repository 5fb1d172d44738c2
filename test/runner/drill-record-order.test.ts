// Drill records written within one second: the newest is the one that finished last, whatever
// the random suffixes of their names (a flake of drill-watch.test.ts in a full run).
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { readDrillHistory, writeDrillRecord } from "../../runner/src/drill/drill-record.js";
import { FileStore } from "../../runner/src/store/file-store.js";

describe("drill records", () => {
  it("the newest is the one that finished last, also within the same second", async () => {
    for (let round = 0; round < 20; round++) {
      const store = new FileStore(await mkdtemp(path.join(tmpdir(), "edms-drill-order-")));
      const base = Date.UTC(2026, 11, 7, 5, 13, 0, 100);
      const passed = { formatVersion: 1 as const, ok: true, tier: "daily", backupId: "a" };
      await writeDrillRecord(store, { ...passed, finishedAt: new Date(base).toISOString() });
      await writeDrillRecord(store, { ...passed, ok: false, finishedAt: new Date(base + 500).toISOString() });
      const history = await readDrillHistory(store);
      expect(history.newest?.ok, `round ${round}`).toBe(false);
      expect(history.newestPassing?.finishedAt).toBe(new Date(base).toISOString());
    }
  });
});
