/**
 * Archive entries that could write outside the extraction folder: absolute names, `..`
 * components, and links whose target leaves the tree. GNU tar already refuses most of these
 * (it strips leading "/" and skips ".." members), but it keeps an absolute symlink, which a
 * later process could follow; the restore refuses the whole archive instead of trusting it.
 */
import path from "node:path";
import { tallyListingLine } from "../stages/media-archive.js";

// "lrwxrwxrwx 0/0  0 2026-11-27 07:19 ./link -> ../x" / "hrw-r--r-- ... ./a link to ./b"
const LISTING = /^([-dlhcbps])\S*\s+\S+\s+\d+(?:,\s*\d+)?\s+\d{4}-\d{2}-\d{2}\s+\d{2}:\d{2}(?::\d{2})?\s(.*)$/;

export interface ArchiveEntry {
  type: string;
  name: string;
  linkTarget?: string;
}

export function parseListingLine(line: string): ArchiveEntry | undefined {
  const m = LISTING.exec(line);
  if (!m) return undefined;
  const type = m[1]!;
  const rest = m[2]!;
  if (type === "l") {
    const at = rest.indexOf(" -> ");
    return at >= 0 ? { type, name: rest.slice(0, at), linkTarget: rest.slice(at + 4) } : { type, name: rest };
  }
  if (type === "h") {
    const at = rest.indexOf(" link to ");
    return at >= 0 ? { type, name: rest.slice(0, at), linkTarget: rest.slice(at + 9) } : { type, name: rest };
  }
  return { type, name: rest };
}

function leavesTree(relative: string): boolean {
  const normal = path.posix.normalize(relative);
  return normal === ".." || normal.startsWith("../");
}

/** Why an entry is unsafe to extract, or undefined when it stays inside the tree. */
export function unsafeEntryProblem(entry: ArchiveEntry): string | undefined {
  const { name, linkTarget } = entry;
  if (name.startsWith("/")) return `${name}: absolute path`;
  if (name.split("/").includes("..")) return `${name}: contains ".."`;
  if (entry.type === "c" || entry.type === "b") return `${name}: device file`;
  if (linkTarget !== undefined) {
    if (linkTarget.startsWith("/")) return `${name}: link to absolute path ${linkTarget}`;
    const resolved = entry.type === "l" ? path.posix.join(path.posix.dirname(name), linkTarget) : linkTarget;
    if (leavesTree(resolved)) return `${name}: link to ${linkTarget} points outside the folder`;
  }
  return undefined;
}

/** What a verbose tar listing tells about an archive: the files and bytes in it, and unsafe entries. */
export interface ArchiveInspection {
  tally: { files: number; sourceBytes: number };
  unsafe: string[];
  onListingLine(line: string): void;
}

export function inspectArchiveListing(): ArchiveInspection {
  const inspection: ArchiveInspection = {
    tally: { files: 0, sourceBytes: 0 },
    unsafe: [],
    onListingLine(line) {
      tallyListingLine(line, inspection.tally);
      const parsed = parseListingLine(line);
      const problem = parsed && unsafeEntryProblem(parsed);
      if (problem) inspection.unsafe.push(problem);
    },
  };
  return inspection;
}
