/**
 * Sizes, rates and durations as people read them, shared by every human view: `list`, `status`,
 * `prune`, the webhook text, the pretty log view and the progress lines all print the same units.
 */

/** Binary units (what `du -h` and `ls -h` print), one decimal. */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

export function formatRate(bytesPerSecond: number): string {
  return `${formatBytes(Math.round(bytesPerSecond))}/s`;
}

export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
  if (s < 172_800) return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  return `${Math.floor(s / 86_400)}d ${String(Math.floor((s % 86_400) / 3600)).padStart(2, "0")}h`;
}

/**
 * Text safe to print on a terminal: control characters (escape sequences that could move the
 * cursor, retitle the window or clear the screen, from a file name or a server's message) are
 * shown as \u001b etc., as the JSON view shows them. Newlines and tabs stay.
 */
export function printable(text: string): string {
  return text.replace(
    // eslint-disable-next-line no-control-regex -- matching control characters is the point
    /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/**
 * A name from the database (schema, table, role) as it goes into a message: every control
 * character escaped, newlines and tabs included, so a table named "x\n{...}" cannot forge a
 * log line. Two different names never print the same (the backslash itself is doubled).
 */
export function safeName(name: string): string {
  return name.replace(
    // eslint-disable-next-line no-control-regex -- matching control characters is the point
    /[\\\u0000-\u001f\u007f-\u009f]/g,
    (c) => (c === "\\" ? "\\\\" : `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`),
  );
}

/** schema.name, each part through safeName. */
export function qualifiedName(schema: string, name: string): string {
  return `${safeName(schema)}.${safeName(name)}`;
}
