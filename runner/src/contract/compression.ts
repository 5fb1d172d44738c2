/**
 * The database dump's compression: PG_DUMP_COMPRESSION's forms, limits and what each does. Part of
 * the runner contract (../contract.ts): zod only.
 */
import { z } from "zod";

export const COMPRESSIONS = ["gzip", "zstd", "none"] as const;
export type Compression = (typeof COMPRESSIONS)[number];

/**
 * The database dump's compression. `gzip` is pg_dump's own (zlib inside the custom format, which
 * pg_restore reads itself); `zstd` is a stream stage after `pg_dump -Z0`, so the object is a zstd
 * frame around a plain custom-format dump (`zstd -d < database.dump.zst | pg_restore ...`) and
 * works with every pg_restore, unlike pg_dump 16's native `--compress=zstd`.
 */
export interface DatabaseCompression {
  method: Compression;
  /** gzip 1-9, zstd 1-19; 0 for none. */
  level: number;
}

/** Each method's levels, [min, max]: the dump's (PG_DUMP_COMPRESSION) and the media archive's (MEDIA_COMPRESSION_LEVEL). */
export const COMPRESSION_LEVELS: Readonly<Record<Compression, readonly [number, number]>> = {
  gzip: [1, 9],
  zstd: [1, 19],
  none: [0, 0],
};

/** `zstd:1`, `gzip:6`, `none`; a bare digit (PG_DUMP_COMPRESSION's first form) is gzip at that level. */
export function parseDatabaseCompression(text: string): DatabaseCompression | { problem: string } {
  const levels = (method: Compression) => COMPRESSION_LEVELS[method].join("-");
  const problem = `must be zstd:N (N ${levels("zstd")}), gzip:N (N ${levels("gzip")}) or none`;
  // "0" is the old form's "no compression" (pg_dump -Z0); "gzip:0" is outside gzip's 1-9 and
  // refused, so no spelling of a level quietly turns into another setting.
  if (text === "none" || text === "0") return { method: "none", level: 0 };
  if (/^[1-9]$/.test(text)) return { method: "gzip", level: Number(text) };
  const m = /^(gzip|zstd):(0|[1-9][0-9]?)$/.exec(text);
  if (!m) return { problem };
  const method = m[1] as Compression;
  const level = Number(m[2]);
  const [min, max] = COMPRESSION_LEVELS[method];
  if (level < min || level > max) return { problem };
  return { method, level };
}

export function formatDatabaseCompression(c: DatabaseCompression): string {
  return c.method === "none" ? "none" : `${c.method}:${c.level}`;
}

/** The compression applied to the dump as a stream stage (and named in its object name), if any. */
export function databaseStreamCompression(c: DatabaseCompression): Compression | undefined {
  return c.method === "zstd" ? "zstd" : undefined;
}

/** pg_dump's own --compress level for a spec: 0 when a stream stage compresses instead. */
export function pgDumpCompressLevel(c: DatabaseCompression): number {
  return c.method === "gzip" ? c.level : 0;
}

export const databaseCompressionSchema = z.string().transform((text, ctx) => {
  const parsed = parseDatabaseCompression(text);
  if ("problem" in parsed) {
    ctx.addIssue({ code: "custom", message: parsed.problem });
    return z.NEVER;
  }
  return parsed;
});
