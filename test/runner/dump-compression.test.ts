// PG_DUMP_COMPRESSION as a spec (zstd:N, gzip:N, none; a bare digit is the old gzip level):
// every string an operator can type is either one exact setting or refused by name (exit 2).
import fc from "fast-check";
import { mkdtemp, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  databaseStreamCompression,
  formatDatabaseCompression,
  objectName,
  parseDatabaseCompression,
  pgDumpCompressLevel,
} from "../../runner/src/contract.js";
import { loadBackupSettings } from "../../runner/src/settings/config.js";
import { ConfigError } from "../../runner/src/errors.js";
import { runRunner } from "../helpers/runner-cli.js";

const good = {
  BACKUP_DESTINATION: "s3://edms-backups/prod",
  BACKUP_TIER: "daily",
  DATABASE_URL: "postgres://app:s3cret@db:5432/edms",
  MEDIA_DIR: "/media",
};

function settingsWith(value: string) {
  return loadBackupSettings({ processEnv: { ...good, PG_DUMP_COMPRESSION: value }, overrides: {}, isTty: false });
}

/** The specs the contract accepts, written out independently of its parser. */
const VALID = new Map<string, string>([
  ["none", "none"],
  ["0", "none"], // the old form's pg_dump -Z0; "gzip:0" is outside gzip's documented 1-9
  ...Array.from({ length: 9 }, (_, i) => [`${i + 1}`, `gzip:${i + 1}`] as [string, string]),
  ...Array.from({ length: 9 }, (_, i) => [`gzip:${i + 1}`, `gzip:${i + 1}`] as [string, string]),
  ...Array.from({ length: 19 }, (_, i) => [`zstd:${i + 1}`, `zstd:${i + 1}`] as [string, string]),
]);

describe("PG_DUMP_COMPRESSION", () => {
  it("defaults to zstd:1 when unset (BENCHMARKS.md)", () => {
    const s = loadBackupSettings({ processEnv: good, overrides: {}, isTty: false });
    expect(formatDatabaseCompression(s.pgDumpCompression)).toBe("zstd:1");
  });

  it("zstd:N is pg_dump -Z0 through zstd into database.dump.zst; gzip:N and none stay pg_dump's own in database.dump", () => {
    const zstd = settingsWith("zstd:3").pgDumpCompression;
    expect(zstd).toEqual({ method: "zstd", level: 3 });
    expect(pgDumpCompressLevel(zstd)).toBe(0);
    expect(objectName("database", { compression: databaseStreamCompression(zstd) })).toBe("database.dump.zst");
    expect(objectName("database", { compression: databaseStreamCompression(zstd), encrypted: true })).toBe(
      "database.dump.zst.age",
    );
    for (const [spec, level] of [
      ["gzip:9", 9],
      ["4", 4],
      ["none", 0],
      ["0", 0],
    ] as const) {
      const c = settingsWith(spec).pgDumpCompression;
      expect(pgDumpCompressLevel(c)).toBe(level);
      expect(objectName("database", { compression: databaseStreamCompression(c) })).toBe("database.dump");
    }
  });

  it("every generated string is either exactly one valid setting or refused naming the variable", () => {
    const typed = fc.oneof(
      fc.string(),
      fc.constantFrom(...VALID.keys()),
      fc
        .tuple(fc.constantFrom("gzip", "zstd", "lz4", "ZSTD", "Gzip", "none", ""), fc.constantFrom(":", "=", " :", ""))
        .chain(([m, sep]) => fc.tuple(fc.constant(m), fc.constant(sep), fc.oneof(fc.nat(30).map(String), fc.string())))
        .map(([m, sep, n]) => `${m}${sep}${n}`),
    );
    fc.assert(
      fc.property(typed, (value) => {
        fc.pre(value !== ""); // an empty variable counts as unset
        const expected = VALID.get(value);
        let got: string | undefined;
        let refused: ConfigError | undefined;
        try {
          got = formatDatabaseCompression(settingsWith(value).pgDumpCompression);
        } catch (error) {
          if (!(error instanceof ConfigError)) throw error;
          refused = error;
        }
        if (expected === undefined) {
          expect(refused?.problems).toEqual([
            `PG_DUMP_COMPRESSION: must be zstd:N (N 1-19), gzip:N (N 1-9) or none (got "${value}")`,
          ]);
        } else {
          expect(got).toBe(expected);
          // The canonical form reads back as itself.
          expect(parseDatabaseCompression(got!)).toEqual(parseDatabaseCompression(value));
        }
      }),
      { numRuns: 500 },
    );
  });

  it("the CLI refuses a bad spec with exit 2, naming it, and stores nothing", async () => {
    const dest = await mkdtemp(path.join(tmpdir(), "edms-dumpspec-"));
    for (const bad of ["zstd:20", "zstd:0", "gzip:0", "gzip:10", "lz4:1", "zstd", "zstd:01", "10"]) {
      const result = await runRunner(["backup", "--tier", "daily"], {
        BACKUP_DESTINATION: `file://${dest}`,
        DATABASE_URL: "postgres://app@127.0.0.1:1/edms",
        MEDIA_DIR: "/nonexistent",
        PG_DUMP_COMPRESSION: bad,
      });
      expect(result.code, bad).toBe(2);
      expect(result.stderr).toContain(
        `PG_DUMP_COMPRESSION: must be zstd:N (N 1-19), gzip:N (N 1-9) or none (got "${bad}")`,
      );
      expect(result.stderr.trim().split("\n")).toHaveLength(2); // the heading and this one problem
    }
    expect(await readdir(dest)).toEqual([]);
  });
});
