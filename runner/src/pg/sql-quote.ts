/**
 * SQL quoting by node-postgres's own rules (pg/lib/utils.js escapeIdentifier and escapeLiteral),
 * here so that quoting a name does not load pg: a media-only backup (BACKUP_DATABASE=false) never
 * talks to PostgreSQL, and loading pg cost ~35 ms of every run's start-up (its stream module builds
 * a fetch Response to detect Cloudflare Workers, which makes Node load undici; pg-driver.ts).
 * test/runner/sql-quote.test.ts checks both against pg's for any string.
 */

/** A double-quoted identifier, inner double quotes doubled. */
export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * A single-quoted literal, quotes and backslashes doubled; with any backslash, an E'' string, so
 * the doubled backslashes mean one whatever standard_conforming_strings says.
 */
export function quoteLiteral(value: string): string {
  let hasBackslash = false;
  let quoted = "'";
  for (const c of value) {
    if (c === "'") quoted += "''";
    else if (c === "\\") {
      quoted += "\\\\";
      hasBackslash = true;
    } else quoted += c;
  }
  quoted += "'";
  return hasBackslash ? ` E${quoted}` : quoted;
}
