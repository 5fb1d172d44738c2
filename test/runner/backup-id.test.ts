// Backup ids: they sort by time as plain strings and carry a random suffix.
import { describe, expect, it } from "vitest";
import { backupIdTime, isBackupId, newBackupId } from "../../runner/src/catalog/backup-id.js";

describe("backup ids", () => {
  it("sort by time and carry a random suffix", () => {
    const a = newBackupId(new Date("2026-01-11T14:47:48.123Z"), () => "3f9a");
    expect(a).toBe("20260111T144748Z-3f9a");
    expect(isBackupId(a)).toBe(true);
    expect(backupIdTime(a)?.toISOString()).toBe("2026-01-11T14:47:48.000Z");
    const later = newBackupId(new Date("2026-01-11T14:47:49Z"), () => "0000");
    expect([later, a].sort()).toEqual([a, later]);
    expect(isBackupId("backup_20260111_224748")).toBe(false);
  });
});
