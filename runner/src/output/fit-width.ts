/**
 * Output that fits the reader's width: a terminal wraps a long line at its edge, mid-word, and a
 * table wider than the screen turns into a mess. Lines are broken between words (wrap-ansi: it
 * measures what the terminal shows, colour sequences and wide characters included).
 */
import wrapAnsi from "wrap-ansi";

/** Continuation rows of a wrapped line start this far in, so a new line stands out. */
export const WRAP_INDENT = 4;

/**
 * The width to fit: COLUMNS when set to a positive number (as GNU ls reads it, so a script or a
 * test can fix it), else the terminal's; undefined off a terminal (a pipe or a file: no fitting).
 */
export function outputWidth(
  stream: NodeJS.WritableStream = process.stdout,
  env: NodeJS.ProcessEnv = process.env,
): number | undefined {
  // Digits only: "1e2" or "80px" is not a width anyone meant.
  const fixed = /^\d{1,5}$/.test(env.COLUMNS ?? "") ? Number(env.COLUMNS) : 0;
  if (fixed > 0) return fixed;
  const tty = stream as Partial<NodeJS.WriteStream>;
  return tty.isTTY && tty.columns ? tty.columns : undefined;
}

/**
 * `text` (one line) broken between words so no row is wider than `width`, continuation rows
 * indented WRAP_INDENT further than the line itself (so a summary's own indented lines stay
 * apart from a wrapped one); a word longer than a row is broken too. Unchanged when it fits.
 */
export function wrapLine(text: string, width: number): string {
  const own = /^ */.exec(text)![0];
  // wrap-ansi trims leading spaces: the line's own indent is measured apart.
  if (own.length < width && !wrapAnsi(text.slice(own.length), width - own.length, { hard: true }).includes("\n"))
    return text;
  const indent = " ".repeat(Math.min(own.length + WRAP_INDENT, Math.floor(width / 2)));
  const room = Math.max(20, width - indent.length);
  // wrap-ansi trims each row; the line's own indent goes back on its first row.
  const rows = wrapAnsi(text.slice(own.length), room, { hard: true }).split("\n");
  return rows.map((row, i) => (i === 0 ? `${own}${row}` : `${indent}${row}`)).join("\n");
}

/** Each line of `text` wrapped to `width` (see wrapLine). */
export function wrapText(text: string, width: number): string {
  return text
    .split("\n")
    .map((line) => wrapLine(line, width))
    .join("\n");
}
