/**
 * MEDIA_REFERENCES: the columns that hold media paths, parsed, quoted and written back. Part of
 * the runner contract (../contract.ts): zod only.
 */
import { z } from "zod";

/** One column that holds media paths (a Django FileField/ImageField), as named in MEDIA_REFERENCES. */
export interface MediaReferenceColumn {
  /** Absent: the first schema of the search path that has the table. */
  schema?: string;
  table: string;
  column: string;
}

/**
 * Splits MEDIA_REFERENCES (`table.column` or `schema.table.column`, comma-separated) into columns.
 * A name with a dot, comma, quote or space is written in double quotes as in SQL (`"my.table".file`,
 * `""` for a quote inside); unquoted names are taken exactly as written (no case folding), since
 * they are looked up in the catalog as data, never pasted into SQL. Hand-written rather than a
 * SQL parser: the grammar is four rules and the errors must name the offending entry.
 */
export function parseMediaReferences(text: string): { columns: MediaReferenceColumn[]; problems: string[] } {
  const columns: MediaReferenceColumn[] = [];
  const problems: string[] = [];
  for (const raw of splitOutsideQuotes(text, ",")) {
    const entry = raw.trim();
    const names: string[] = [];
    let why: string | undefined;
    for (const part of splitOutsideQuotes(entry, ".")) {
      const name = unquoteName(part.trim());
      if (typeof name !== "string") why ??= name.problem;
      else if (name === "") why ??= "empty name";
      else if (name.includes("\0")) why ??= "a name cannot contain a NUL byte";
      else names.push(name);
    }
    if (!why && names.length !== 2 && names.length !== 3) why = `${names.length} name${names.length === 1 ? "" : "s"}`;
    if (why) {
      problems.push(`"${entry}": ${why} (write table.column or schema.table.column; quote names as in SQL)`);
      continue;
    }
    const [a, b, c] = names as [string, string, string?];
    columns.push(c === undefined ? { table: a, column: b } : { schema: a, table: b, column: c });
  }
  return { columns, problems };
}

/** Splits at `sep` except inside double quotes (where `""` is an escaped quote). */
function splitOutsideQuotes(text: string, sep: string): string[] {
  const out: string[] = [];
  let current = "";
  let quoted = false;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    if (ch === sep && !quoted) {
      out.push(current);
      current = "";
    } else current += ch;
  }
  out.push(current);
  return out;
}

/** `name` or `"na""me"` to the name; a problem for anything else (stray quotes, spaces). */
function unquoteName(part: string): string | { problem: string } {
  if (part.startsWith('"')) {
    if (part.length < 2 || !part.endsWith('"')) return { problem: "unterminated double quote" };
    const inner = part.slice(1, -1);
    if (inner.replace(/""/g, "").includes('"')) return { problem: "stray double quote" };
    return inner.replace(/""/g, '"');
  }
  if (/["\s]/.test(part)) return { problem: `${JSON.stringify(part)} needs double quotes` };
  return part;
}

/** A name as MEDIA_REFERENCES writes it: bare when it needs no quotes. */
export function quoteReferenceName(name: string): string {
  return /^[^.,"\s]+$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

/** The MEDIA_REFERENCES text for columns (what the Pulumi program writes, what logs show). */
export function formatMediaReferences(columns: readonly MediaReferenceColumn[]): string {
  return columns
    .map((c) =>
      [c.schema, c.table, c.column]
        .filter((n) => n !== undefined)
        .map(quoteReferenceName)
        .join("."),
    )
    .join(",");
}

/** MEDIA_REFERENCES as a zod schema: parses into columns, or names every bad entry. */
export const mediaReferencesSchema = z.string().transform((text, ctx) => {
  const { columns, problems } = parseMediaReferences(text);
  for (const problem of problems) ctx.addIssue({ code: "custom", message: problem });
  return columns;
});
