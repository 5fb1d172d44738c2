// The runner's pure pieces: ids, part sizes, destinations, redaction, tar listings, versions.
import { describe, expect, it } from "vitest";
import { backupIdTime, isBackupId, newBackupId } from "../../runner/src/backup-id.js";
import { parseDestination } from "../../runner/src/destination.js";
import { choosePartSize, MAX_PARTS } from "../../runner/src/part-size.js";
import { redact } from "../../runner/src/redact.js";
import { tarCreateArgs } from "../../runner/src/stages/media-archive.js";
import { dumpVersionProblem, parseToolVersion, restoreVersionProblem } from "../../runner/src/pg/versions.js";
import { resolvePgConnection, childEnv } from "../../runner/src/pg/connection.js";
import { parseManifest } from "../../runner/src/manifest.js";

const MiB = 1024 * 1024;

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

describe("part size", () => {
  it("stays at the minimum for small streams", () => {
    expect(choosePartSize(0)).toBe(8 * MiB);
    expect(choosePartSize(10 * 1024 * MiB)).toBe(8 * MiB);
  });
  it("keeps a 1 TiB stream under 10,000 parts even when the estimate is 25% low", () => {
    const tib = 1024 * 1024 * MiB;
    const part = choosePartSize(tib);
    expect(Math.ceil(tib / part)).toBeLessThanOrEqual(MAX_PARTS * 0.75 + 1);
    expect(Math.ceil((tib * 1.3) / part)).toBeLessThan(MAX_PARTS);
    expect(part % MiB).toBe(0);
  });
  it("honours an override", () => {
    expect(choosePartSize(1e12, 16)).toBe(16 * MiB);
  });
});

describe("destinations", () => {
  it("parses s3 and file URLs", () => {
    expect(parseDestination("s3://edms-backups")).toMatchObject({ kind: "s3", bucket: "edms-backups", prefix: "" });
    expect(parseDestination("s3://edms-backups/a/b/")).toMatchObject({ kind: "s3", prefix: "a/b" });
    expect(parseDestination("file:///var/backups/edms/")).toMatchObject({ kind: "file", root: "/var/backups/edms" });
    expect(parseDestination("/var/backups")).toMatch(/must be a URL/);
  });

  // Hostile spellings of a folder (issue 10, item 8): each is a sentence (exit 2), never a path
  // the operator did not name, never a thrown TypeError (exit 1).
  it.each([
    ["file:relative", /needs three slashes and an absolute path/],
    ["file:/abs", /needs three slashes/],
    ["FILE:x", /needs three slashes/],
    ["file:///", /is the root folder/],
    ["file:////", /is the root folder/],
    ["file:///.", /is the root folder/],
    ["file:///tmp/..", /is the root folder/],
    ["file:///a%2Fb", /encoded "\/" \(%2F\)/],
    ["file:///a%2fb", /encoded "\/"/],
    ["file:///a%00b", /NUL/],
    ["file://host/x", /need an absolute path/],
    ["file:///x?y=1", /no \?query or #fragment/],
    ["file:///x#y", /no \?query or #fragment/],
  ])("refuses %s", (value, expected) => {
    expect(parseDestination(value)).toMatch(expected);
  });

  it.each([
    ["file:///var/backups/edms", "/var/backups/edms"],
    ["file:///var/backups/./edms/../edms/", "/var/backups/edms"],
    ["file:///with%20space/r%C3%A9sum%C3%A9", "/with space/résumé"],
  ])("reads %s as %s", (value, root) => {
    expect(parseDestination(value)).toMatchObject({ kind: "file", root });
  });
});

describe("redaction", () => {
  it("removes passwords from connection strings and key=value text", () => {
    expect(redact("connect postgres://app:hunter2@db:5432/edms failed")).toBe(
      "connect postgres://app:***@db:5432/edms failed",
    );
    expect(redact("host=db password=hunter2 user=app")).toBe("host=db password=*** user=app");
    expect(redact("auth failed for hunter2", ["hunter2"])).toBe("auth failed for ***");
  });
  it("keeps connection descriptions without a password", () => {
    const c = resolvePgConnection("postgresql://app:p%40ss@db.internal:6543/edms?sslmode=require", {});
    expect(c).toMatchObject({ database: "edms", display: "app@db.internal:6543/edms", secrets: ["p@ss"] });
    if (typeof c === "string") throw new Error(c);
    expect(c.env.PGSSLMODE).toBe("require");
    // Children get libpq variables, never the URL, and no stray PG* setting of the parent.
    const env = childEnv(c, { PATH: "/bin", DATABASE_URL: "x", PGSERVICE: "other" });
    expect(env).toEqual({ PATH: "/bin", ...c.env });
  });
});

describe("tar listing", () => {
  it("compresses with the chosen program", () => {
    expect(tarCreateArgs("/media", "zstd", 3)).toContain("--use-compress-program=zstd -q --single-thread -3");
    expect(tarCreateArgs("/media", "none", 0).some((a) => a.startsWith("--use-compress-program"))).toBe(false);
  });
});

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

describe("manifest", () => {
  it("rejects a manifest that is not of the format", () => {
    expect(() => parseManifest("{", "x")).toThrow(/not valid JSON/);
    expect(() => parseManifest(JSON.stringify({ formatVersion: 1, backupId: "a" }), "x")).toThrow(
      /does not match format 1: tier/,
    );
  });
});
