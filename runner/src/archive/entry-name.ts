/**
 * Archive member names as bytes. A file name on Linux is any byte string without NUL or "/":
 * not necessarily UTF-8, possibly holding newlines, quotes, " -> " or " link to ". Decoding one
 * to a JavaScript string loses bytes (invalid UTF-8 becomes U+FFFD), so names stay Buffers
 * wherever they are compared, split or checked, and become text only for messages.
 */

const SLASH = 0x2f;
const DOT = Buffer.from(".");
const DOTDOT = Buffer.from("..");

/** The "/"-separated components of `name`, without empty and "." ones. */
export function components(name: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  for (let i = 0; i <= name.length; i += 1) {
    if (i === name.length || name[i] === SLASH) {
      const part = name.subarray(start, i);
      if (part.length && !part.equals(DOT)) out.push(part);
      start = i + 1;
    }
  }
  return out;
}

export function isAbsolute(name: Buffer): boolean {
  return name[0] === SLASH;
}

/**
 * Whether a component is "..": a scan of the bytes, not components(name).some(...) (which made
 * a Buffer a component, for every entry of every walk twice a backup; issue 22).
 */
export function hasDotDot(name: Buffer): boolean {
  for (let at = name.indexOf(DOTDOT); at !== -1; at = name.indexOf(DOTDOT, at + 1)) {
    const starts = at === 0 || name[at - 1] === SLASH;
    const ends = at + 2 === name.length || name[at + 2] === SLASH;
    if (starts && ends) return true;
  }
  return false;
}

const SLASH_BYTES = Buffer.from([SLASH]);

export function joinComponents(parts: readonly Buffer[]): Buffer {
  if (parts.length === 1) return Buffer.from(parts[0]!);
  const out: Buffer[] = [];
  parts.forEach((p, i) => {
    if (i) out.push(SLASH_BYTES);
    out.push(p);
  });
  return Buffer.concat(out);
}

/**
 * Where `target`, taken relative to the folder `base` (components below the root), lands: its
 * components below the root, or undefined when it climbs out of the root on the way (a
 * lexical check: the resolved path is judged, never the file system it would be resolved in).
 */
export function resolveInside(base: readonly Buffer[], target: Buffer): Buffer[] | undefined {
  const stack = [...base];
  for (const part of components(target)) {
    if (part.equals(DOTDOT)) {
      if (!stack.length) return undefined;
      stack.pop();
    } else stack.push(part);
  }
  return stack;
}

const ESCAPES: Record<number, string> = {
  0x07: "\\a",
  0x08: "\\b",
  0x09: "\\t",
  0x0a: "\\n",
  0x0b: "\\v",
  0x0c: "\\f",
  0x0d: "\\r",
  0x22: '\\"',
  0x5c: "\\\\",
};

/**
 * `name` as a C string literal, the way GNU tar prints it with --quoting-style=c in the C
 * locale: printable ASCII as is, everything else escaped. For messages: two different names
 * never print alike, and an operator can paste the name into `printf`.
 */
export function quoteName(name: Buffer): string {
  let out = '"';
  for (const byte of name) {
    const escape = ESCAPES[byte];
    if (escape) out += escape;
    else if (byte >= 0x20 && byte < 0x7f) out += String.fromCharCode(byte);
    else out += `\\${byte.toString(8).padStart(3, "0")}`;
  }
  return `${out}"`;
}

const UNESCAPES: Record<string, number> = {
  a: 0x07,
  b: 0x08,
  t: 0x09,
  n: 0x0a,
  v: 0x0b,
  f: 0x0c,
  r: 0x0d,
  '"': 0x22,
  "\\": 0x5c,
  "'": 0x27,
  "?": 0x3f,
};

/**
 * Reads one C string literal starting at `text[start]` (which must be `"`): the bytes it
 * stands for and the index after its closing quote, or undefined when it is not one (an
 * unknown escape, a missing closing quote, a byte that tar would have escaped).
 */
export function readQuoted(text: string, start: number): { bytes: Buffer; end: number } | undefined {
  if (text[start] !== '"') return undefined;
  const bytes: number[] = [];
  let i = start + 1;
  while (i < text.length) {
    const ch = text.charCodeAt(i);
    if (ch === 0x22) return { bytes: Buffer.from(bytes), end: i + 1 };
    // tar escapes everything outside printable ASCII in the C locale; anything else means the
    // line is not what this parser thinks it is.
    if (ch < 0x20 || ch >= 0x7f) return undefined;
    if (ch !== 0x5c) {
      bytes.push(ch);
      i += 1;
      continue;
    }
    const next = text[i + 1];
    if (next === undefined) return undefined;
    const octal = /^[0-7]{1,3}/.exec(text.slice(i + 1, i + 4));
    if (octal) {
      const value = parseInt(octal[0], 8);
      if (value > 0xff) return undefined;
      bytes.push(value);
      i += 1 + octal[0].length;
      continue;
    }
    const byte = UNESCAPES[next];
    if (byte === undefined) return undefined;
    bytes.push(byte);
    i += 2;
  }
  return undefined;
}
