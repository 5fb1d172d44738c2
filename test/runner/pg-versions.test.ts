// pg_dump and pg_restore versions: refused when older than the server or the dump, before anything starts.
import { describe, expect, it } from "vitest";
import { dumpVersionProblem, parseToolVersion, restoreVersionProblem } from "../../runner/src/pg/versions.js";

describe("pg_dump version check", () => {
  it("refuses a pg_dump older than the server, naming both", () => {
    expect(parseToolVersion("pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)")).toBe("15.18");
    expect(parseToolVersion("pg_dump (PostgreSQL) 17devel")).toBe("17");
    expect(dumpVersionProblem("15.18", "15.4")).toBeUndefined();
    expect(dumpVersionProblem("16.1", "15.4")).toBeUndefined();
    expect(dumpVersionProblem("14.9", "15.4")).toMatch(
      /pg_dump 14\.9 is older than the server \(PostgreSQL 15\.4\).*PG_MAJOR=15/,
    );
  });
  it("refuses a pg_restore older than the pg_dump that wrote the backup, and passes unknown versions", () => {
    const dump = (pgDumpVersion: string, pgRestoreMin?: number) => ({ pgDumpVersion, pgRestoreMin });
    expect(restoreVersionProblem("15.18", dump("15.2"))).toBeUndefined();
    expect(restoreVersionProblem("16.1", dump("15.2"))).toBeUndefined();
    expect(restoreVersionProblem("15.18", dump("(unknown: imported)"))).toBeUndefined();
    // Format 3 records the oldest pg_restore itself; it wins over pg_dump's major.
    expect(restoreVersionProblem("15.18", dump("15.2", 16))).toMatch(/needs pg_restore 16 or newer.*PG_MAJOR=16/);
    expect(restoreVersionProblem("16.1", dump("15.2", 16))).toBeUndefined();
    expect(restoreVersionProblem("15.18", dump("16.4"))).toMatch(
      /pg_restore 15\.18 is older than this backup needs \(written by pg_dump 16\.4; it needs pg_restore 16 or newer\).*PG_MAJOR=16/,
    );
  });
});
