/**
 * What an undo compares to tell whether a folder changed since a restore recorded it: for every
 * entry below it, its name (bytes), type, and for everything but folders its size, inode, mtime
 * and ctime in nanoseconds. A file rewritten with the same size has a new mtime and ctime; one
 * replaced by another (rename over it) has a new inode; ctime cannot be set back by any user
 * (only by changing the system clock), so `touch -r` does not hide a rewrite. Folders are
 * compared by presence only: their times change whenever an entry inside does, which is already
 * reported as that entry.
 *
 * What it cannot detect (docs/RUNBOOK.md): a file changed while the system clock was set back to
 * exactly its old ctime, and a filesystem without real inodes or ctimes (some network and FUSE
 * filesystems report constant or made-up values).
 */
import { excludedFromArchive } from "../contract.js";
import { quoteName } from "../archive/entry-name.js";
import { walkTree } from "../archive/directory-walk.js";

/** [name as base64, type, size, inode, mtime ns, ctime ns] (folders: only name and type). */
export type EntryFingerprint = [string, string, ...string[]];

/** Every entry below `dir`, the runner's own copies at its top level left out (as a backup does). */
export async function fingerprintTree(dir: string): Promise<EntryFingerprint[]> {
  const out: EntryFingerprint[] = [];
  for await (const e of walkTree(dir, { skipTopLevel: excludedFromArchive })) {
    const name = e.name.toString("base64");
    if (e.type === "d") out.push([name, e.type]);
    else
      out.push([
        name,
        e.type,
        String(e.stats.size),
        String(e.stats.ino),
        String(e.stats.mtimeNs),
        String(e.stats.ctimeNs),
      ]);
  }
  return out;
}

export interface TreeChanges {
  added: string[];
  changed: string[];
  removed: string[];
}

/** Pure: the entries added, changed and removed between two fingerprints (names quoted for messages). */
export function treeChanges(recorded: readonly EntryFingerprint[], now: readonly EntryFingerprint[]): TreeChanges {
  const before = new Map(recorded.map((e) => [e[0], e.slice(1).join(" ")]));
  const changes: TreeChanges = { added: [], changed: [], removed: [] };
  const show = (b64: string) => quoteName(Buffer.from(b64, "base64"));
  for (const e of now) {
    const was = before.get(e[0]);
    if (was === undefined) changes.added.push(show(e[0]));
    else if (was !== e.slice(1).join(" ")) changes.changed.push(show(e[0]));
    before.delete(e[0]);
  }
  for (const name of before.keys()) changes.removed.push(show(name));
  return changes;
}

/** One phrase for a message ("2 added (a, b), 1 changed (c)"), the first few names of each kind. */
export function describeTreeChanges(c: TreeChanges, shown = 5): string | undefined {
  const part = (what: string, names: string[]) =>
    names.length
      ? `${names.length} ${what} (${names.slice(0, shown).join(", ")}${names.length > shown ? ", ..." : ""})`
      : undefined;
  const parts = [part("added", c.added), part("changed", c.changed), part("removed", c.removed)].filter(Boolean);
  return parts.length ? parts.join(", ") : undefined;
}
