/**
 * `--path` of `files` and `restore --media-only`: which entries of a store-format set's index an
 * operator asked for. Names are bytes. A path is given either as plain text (its UTF-8 bytes) or,
 * for a name that is not UTF-8 or holds a newline, exactly as `files` prints it: a C string
 * literal in double quotes (`"docs/caf\351.pdf"`, octal escapes for every other byte). A path that
 * begins with `"` is always read as such a literal, so any name can be given, and one copied from
 * `files` with its quotes means exactly the bytes `files` saw.
 *
 * A path names one entry or a folder and everything below it, compared component by component:
 * `doc` never selects `docs2/`, `docs/` and `./docs` are `docs`. Absolute paths, `..` and the
 * empty path are refused (a restore of everything does not need `--path`).
 */
import { components, joinComponents, quoteName, readQuoted } from "../archive/entry-name.js";

const DOTDOT = Buffer.from("..");

/** The bytes `arg` stands for, normalised (`./a//b/` is `a/b`), or the problem with it. */
export function parseSelectionPath(arg: string): { path: Buffer } | { problem: string } {
  let raw: Buffer;
  if (arg.startsWith('"')) {
    const quoted = readQuoted(arg, 0);
    if (!quoted || quoted.end !== arg.length)
      return {
        problem: `--path ${arg}: begins with a double quote but is not one quoted name as \`files\` prints it ("docs/caf\\351.pdf": octal escapes like \\351, \\n, \\\\, \\")`,
      };
    raw = quoted.bytes;
  } else raw = Buffer.from(arg, "utf8");
  const shown = `--path ${JSON.stringify(arg)}`;
  if (raw.includes(0)) return { problem: `${shown}: a name cannot hold a NUL byte` };
  if (raw[0] === 0x2f)
    return {
      problem: `${shown}: is absolute; give the name below the media folder, as \`files <backup>\` prints it (e.g. docs/report.pdf)`,
    };
  const parts = components(raw);
  if (parts.some((p) => p.equals(DOTDOT)))
    return { problem: `${shown}: holds "..": give the name below the media folder, as \`files <backup>\` prints it` };
  if (parts.length === 0)
    return {
      problem: `${shown}: names the whole media folder; to restore everything, leave out --path`,
    };
  return { path: joinComponents(parts) };
}

/** Every `args`' bytes, or a ConfigError-ready list of problems (every bad one named). */
export function parseSelectionPaths(args: readonly string[]): { paths: Buffer[] } | { problems: string[] } {
  const paths: Buffer[] = [];
  const problems: string[] = [];
  for (const arg of args) {
    const parsed = parseSelectionPath(arg);
    if ("problem" in parsed) problems.push(parsed.problem);
    else paths.push(parsed.path);
  }
  return problems.length ? { problems } : { paths };
}

/** True when `name` is `wanted` or below it (names compared as components of bytes). */
export function underPath(name: Buffer, wanted: Buffer): boolean {
  const a = components(name);
  const b = components(wanted);
  return b.length <= a.length && b.every((part, i) => part.equals(a[i]!));
}

/**
 * The entries a set of paths selects, and which of the paths matched something. Holds only the
 * paths and their folders (never the index), so memory does not grow with the set; a lookup costs
 * one map probe per component of the name, whatever the number of paths (the drill's sample asks
 * for a thousand).
 */
export class PathSelection {
  /** Each path (latin1 of its bytes: one char per byte, so distinct names stay distinct) -> its index. */
  private readonly wanted = new Map<string, number[]>();
  /** Every folder strictly above a path. */
  private readonly folders = new Set<string>();
  private readonly matched: boolean[];

  constructor(readonly paths: readonly Buffer[]) {
    paths.forEach((p, i) => {
      const parts = components(p);
      const key = joinComponents(parts).toString("latin1");
      this.wanted.set(key, [...(this.wanted.get(key) ?? []), i]);
      for (let n = 1; n < parts.length; n += 1) this.folders.add(joinComponents(parts.slice(0, n)).toString("latin1"));
    });
    this.matched = paths.map(() => false);
  }

  /** Whether `name` is one of the paths or below one (and notes which paths matched). */
  selects(name: Buffer): boolean {
    const parts = components(name);
    let hit = false;
    let prefix = "";
    for (const [i, part] of parts.entries()) {
      prefix = i ? `${prefix}/${part.toString("latin1")}` : part.toString("latin1");
      for (const index of this.wanted.get(prefix) ?? []) {
        this.matched[index] = true;
        hit = true;
      }
    }
    return hit;
  }

  /** Whether the folder `name` lies above one of the paths (it is created, with its mode and mtime). */
  above(name: Buffer): boolean {
    const parts = components(name);
    return parts.length === 0 ? this.paths.length > 0 : this.folders.has(joinComponents(parts).toString("latin1"));
  }

  /** The paths nothing selected so far, printable. */
  unmatched(): string[] {
    return this.paths.filter((_, i) => !this.matched[i]).map(quoteName);
  }
}
