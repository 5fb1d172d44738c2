/**
 * Which index lines a `--path` selection can need, decided on the raw line before it is parsed:
 * parsing (JSON, the schema, base64) is most of the cost of reading one file out of a large set,
 * and almost every line is one the selection never uses. A line can be skipped only when it is
 * certain not to be needed; every other line, and every line not shaped as the writer writes
 * them, is parsed (and judged) in full.
 *
 * The writer's lines begin `{"path":"<base64 of the name>"`. Base64 turns each 3 bytes into 4
 * characters, so every name that begins with the bytes P has a base64 that begins with the base64
 * of P cut to a multiple of 3 bytes: those lines may be P or below it and are parsed (a few more
 * than needed, never fewer). The folders above P, and the root entry (""), are known names whose
 * base64 is compared whole.
 */
const OPENING = '{"path":"';

export class LinePrefilter {
  /** Base64 prefixes of the paths, by length (one probe per distinct length, not per path). */
  private readonly prefixes = new Map<number, Set<string>>();
  /** Base64 of the root, of each path's folders and of each path itself. */
  private readonly exact = new Set<string>([""]);

  constructor(paths: readonly Buffer[]) {
    for (const p of paths) {
      const cut = p.subarray(0, p.length - (p.length % 3)).toString("base64");
      const same = this.prefixes.get(cut.length) ?? new Set<string>();
      same.add(cut);
      this.prefixes.set(cut.length, same);
      for (let at = p.indexOf(0x2f); at >= 0; at = p.indexOf(0x2f, at + 1))
        this.exact.add(p.subarray(0, at).toString("base64"));
    }
  }

  /** False only for a line that is certainly an entry neither selected nor above a path. */
  mayNeed(line: string): boolean {
    if (!line.startsWith(OPENING)) return true;
    const end = line.indexOf('"', OPENING.length);
    if (end < 0) return true;
    const name = line.slice(OPENING.length, end);
    // An escape inside the name, or a second "path" key (JSON.parse keeps the last): parsed.
    if (name.includes("\\") || line.includes('"path"', end)) return true;
    if (this.exact.has(name)) return true;
    for (const [length, set] of this.prefixes) if (name.length >= length && set.has(name.slice(0, length))) return true;
    return false;
  }
}
