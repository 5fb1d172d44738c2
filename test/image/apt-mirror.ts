/**
 * Which Debian mirror this machine's apt uses, read at run time so no host name is written into
 * the repository: the base image is made from the same mirror (mmdebstrap), and builds behind a
 * firewall keep working wherever apt itself works.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";

export interface AptSource {
  uri: string;
  suites: string[];
  components: string[];
}

/** deb822 stanzas (`*.sources`): blank-line separated `Key: value` fields, `#` comments. */
export function parseDeb822(text: string): AptSource[] {
  const sources: AptSource[] = [];
  for (const stanza of text.split(/\n[ \t]*\n/)) {
    const fields = new Map<string, string>();
    let last: string | undefined;
    for (const line of stanza.split("\n")) {
      if (line.startsWith("#")) continue;
      // A continuation line (leading space) extends the previous field.
      if (/^[ \t]/.test(line) && last) {
        fields.set(last, `${fields.get(last)} ${line.trim()}`);
        continue;
      }
      const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(line);
      if (m) {
        last = m[1]!.toLowerCase();
        fields.set(last, m[2]!.trim());
      }
    }
    const words = (key: string): string[] => (fields.get(key) ?? "").split(/\s+/).filter(Boolean);
    if (!words("types").includes("deb")) continue;
    if (/^(no|false)$/i.test(fields.get("enabled") ?? "yes")) continue;
    for (const uri of words("uris")) sources.push({ uri, suites: words("suites"), components: words("components") });
  }
  return sources;
}

/** One-line style (`*.list`, sources.list): `deb [options] URI suite component...`. */
export function parseOneLine(text: string): AptSource[] {
  const sources: AptSource[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*$/, "").trim();
    const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s*(.*)$/.exec(line);
    if (m) sources.push({ uri: m[1]!, suites: [m[2]!], components: m[3]!.split(/\s+/).filter(Boolean) });
  }
  return sources;
}

/** The mirror serving `<suite> main` (not a security or updates suite), or undefined. */
export function debianMirror(sources: AptSource[], suite: string): string | undefined {
  const hit = sources.find(
    (s) => /^https?:\/\//.test(s.uri) && s.suites.includes(suite) && s.components.includes("main"),
  );
  return hit?.uri.replace(/\/+$/, "");
}

/** Every apt source of this machine, from /etc/apt (or `root`): sources.list, *.list, *.sources. */
export function readAptSources(root = "/etc/apt"): AptSource[] {
  const sources: AptSource[] = [];
  const main = path.join(root, "sources.list");
  if (existsSync(main)) sources.push(...parseOneLine(readFileSync(main, "utf8")));
  const dir = path.join(root, "sources.list.d");
  if (existsSync(dir)) {
    for (const name of readdirSync(dir).sort()) {
      const file = path.join(dir, name);
      // apt itself ignores other names (e.g. *.disabled), so they must not count here either.
      if (name.endsWith(".sources")) sources.push(...parseDeb822(readFileSync(file, "utf8")));
      else if (name.endsWith(".list")) sources.push(...parseOneLine(readFileSync(file, "utf8")));
    }
  }
  return sources;
}
