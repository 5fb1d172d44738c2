/**
 * GNU tar's verbose listing, read as structured entries.
 *
 * Why tar's listing and not a tar reader in Node (tar-stream, node-tar): GNU tar already reads
 * every archive the runner handles (it creates the backup, extracts the restore, lists for
 * verify), and its listing comes out of that same pass. A reader in Node would need the
 * decompressed stream a second time: Node 20's zlib has no zstd, so a second `zstd -d` child and a
 * tee of every byte through this process, for information tar prints anyway. What made the
 * listing unsafe was its text form: by default a name is printed raw, so a symlink named
 * `x -> ok` or a hard link named `a link to b` cannot be told apart from the arrow, and a name
 * with a newline spans two lines. With `--quoting-style=c` every name and link target is one C
 * string literal, and in the C locale every byte outside printable ASCII is an octal escape, so
 * a line reads back into exact bytes (entry-name.ts) and nothing in a name can look like syntax.
 */
import { readQuoted } from "./entry-name.js";

/** Flags every tar invocation that is listed needs: the listing with sizes, names quoted. */
export const LISTING_FLAGS = ["--verbose", "--verbose", "--quoting-style=c"] as const;

/** tar's environment: the C locale, so names are escaped byte by byte (and messages are stable). */
export function tarEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...base, LC_ALL: "C" };
}

/** The type letter of `ls -l`: "-" regular, "d" folder, "l" symlink, "h" hard link, "c"/"b" devices, "p" FIFO... */
export type EntryType = string;

export interface ArchiveEntry {
  type: EntryType;
  /** Bytes of a regular file's content as archived (0 for everything else). */
  size: number;
  /** As stored: usually "./a/b", a folder with a trailing "/"; a hostile archive's may be absolute. */
  name: Buffer;
  /** A symlink's target, or the member a hard link refers to, as stored. */
  linkTarget?: Buffer;
}

// Everything before the quoted name: type and permissions, owner/group, size (or
// "major,minor" of a device), date, time. Nothing in it can hold a double quote.
const HEAD = /^([-a-zA-Z])\S* +\S.*? +(\d+|\d+, *\d+) +\S+ \S+ $/;

/**
 * One line of `tar -vv --quoting-style=c` in the C locale as an entry, or undefined when the
 * line is not a listing line (callers decide whether that is a diagnostic or a problem).
 */
export function parseListingLine(line: string): ArchiveEntry | undefined {
  const quote = line.indexOf('"');
  if (quote < 0) return undefined;
  const head = HEAD.exec(line.slice(0, quote));
  if (!head) return undefined;
  const name = readQuoted(line, quote);
  if (!name) return undefined;
  const type = head[1]!;
  const size = type === "-" ? Number(head[2]) : 0;
  const rest = line.slice(name.end);
  if (rest === "") return { type, size, name: name.bytes };
  const arrow = type === "l" ? " -> " : type === "h" ? " link to " : undefined;
  if (!arrow || !rest.startsWith(arrow)) return undefined;
  const target = readQuoted(line, name.end + arrow.length);
  if (!target || target.end !== line.length) return undefined;
  return { type, size, name: name.bytes, linkTarget: target.bytes };
}

/** "tar: ...", "zstd: ...": a program's diagnostic on the same stream as the listing. */
export function isDiagnostic(line: string): boolean {
  return /^[^\s:"]+: /.test(line) || line.trim() === "";
}
