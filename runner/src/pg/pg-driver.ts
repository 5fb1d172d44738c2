/**
 * node-postgres, loaded on first use. A media-only backup never connects, and loading pg cost ~35
 * ms of every run's start-up (its stream module builds a fetch Response to detect Cloudflare
 * Workers, which makes Node load undici): modules that talk to PostgreSQL import only pg's types
 * and ask for the driver here when they connect (test/runner/bundle-load.test.ts checks that a
 * run without a database does not load it).
 */
import type pg from "pg";

let driver: Promise<typeof pg> | undefined;

export function pgDriver(): Promise<typeof pg> {
  return (driver ??= import("pg").then((m) => m.default));
}
