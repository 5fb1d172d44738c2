/**
 * The one judge of a media tree's entries, whether they come from tar's listing (backup, verify,
 * restore, import) or from a walk of a folder (the backup's preflight, the drill's check of what
 * a restore wrote): how many regular files and bytes they hold, and which entries a restore must
 * refuse. Backup, verify, restore and drill all count and judge with this, so a set that one
 * accepts cannot be refused by another, and a hard link counts the same everywhere.
 */
import { components, hasDotDot, isAbsolute, joinComponents, quoteName, resolveInside } from "./entry-name.js";
import { isDiagnostic, parseListingLine, type ArchiveEntry } from "./listing.js";

export interface ArchiveTally {
  /** Regular files, each name counted (a hard link's extra names too: extracted, each is a file). */
  files: number;
  /** Their bytes, each file's content once (a hard link shares its first name's content). */
  sourceBytes: number;
}

/** How many problems a message names before it says "and N more". */
const NAMED = 5;

/** A byte-exact key for a set of names (latin1 maps each byte to one code unit and back). */
const key = (parts: readonly Buffer[]): string => joinComponents(parts).toString("latin1");

export interface InspectorHooks {
  /** Hears each problem as it is found (a backup stops at the first). */
  onUnsafe?: (problem: string) => void;
  /** Each name that is a regular file once extracted (hard links too), below the root, as bytes. */
  onFile?: (name: Buffer) => void;
}

export class EntryInspector {
  readonly tally: ArchiveTally = { files: 0, sourceBytes: 0 };
  /** Why entries are unsafe to extract (the first few), and how many there were. */
  readonly unsafe: string[] = [];
  unsafeCount = 0;
  /** Listing lines that are neither an entry nor a diagnostic: the tally cannot be trusted. */
  readonly unreadable: string[] = [];
  unreadableCount = 0;
  /** Members that are neither regular files nor folders (a hard link to one is not a file). */
  private readonly notFiles = new Set<string>();
  /** Symlink members: nothing may be extracted through one. */
  private readonly symlinks = new Set<string>();

  constructor(private readonly hooks: InspectorHooks = {}) {}

  /** One line of tar's verbose listing (LISTING_FLAGS, tarEnv). */
  line(line: string): void {
    const entry = parseListingLine(line);
    if (entry) this.add(entry);
    else if (!isDiagnostic(line)) {
      this.unreadableCount += 1;
      if (this.unreadable.length < NAMED) this.unreadable.push(JSON.stringify(line.slice(0, 300)));
    }
  }

  add(entry: ArchiveEntry): void {
    // Split and quoted only when needed: this runs for every entry of every backup, and most are
    // plain files in a tree without symlinks (50,000 files: ~60 ms of a second backup, issue 22).
    let split: Buffer[] | undefined;
    const parts = () => (split ??= components(entry.name));
    const problem = this.problem(entry, parts);
    if (problem) {
      this.unsafeCount += 1;
      if (this.unsafe.length < NAMED) this.unsafe.push(problem);
      this.hooks.onUnsafe?.(problem);
    }
    // Named in the sets below only for links and special files (not for every file: this runs
    // for every entry of every backup).
    const self = () => key(parts());
    if (entry.type === "-") {
      this.tally.files += 1;
      this.tally.sourceBytes += entry.size;
      this.hooks.onFile?.(joinComponents(parts()));
    } else if (entry.type === "h") {
      // tar stores a hard link's content once, under its first name, and lists every later name
      // as a link to that one; so does the walk.
      const target = key(components(entry.linkTarget ?? Buffer.alloc(0)));
      if (this.notFiles.has(target)) this.notFiles.add(self());
      else {
        this.tally.files += 1;
        this.hooks.onFile?.(joinComponents(parts()));
      }
      if (this.symlinks.has(target)) this.symlinks.add(self());
    } else if (entry.type !== "d") {
      this.notFiles.add(self());
      if (entry.type === "l") this.symlinks.add(self());
    }
  }

  /** Why `entry` could write or point outside the extraction folder, or undefined. */
  private problem(entry: ArchiveEntry, parts: () => Buffer[]): string | undefined {
    const name = () => quoteName(entry.name);
    if (isAbsolute(entry.name)) return `${name()}: absolute path`;
    if (hasDotDot(entry.name)) return `${name()}: contains ".."`;
    if (entry.type === "c" || entry.type === "b") return `${name()}: device file`;
    const through = this.symlinks.size === 0 ? undefined : this.throughSymlink(parts());
    if (through) return `${name()}: inside the symlink ${through}`;
    const target = entry.linkTarget;
    if (target === undefined || (entry.type !== "l" && entry.type !== "h")) return undefined;
    const shown = quoteName(target);
    if (isAbsolute(target)) return `${name()}: link to the absolute path ${shown}`;
    // A symlink resolves from its own folder; a hard link names a member from the root.
    const resolved = resolveInside(entry.type === "l" ? parts().slice(0, -1) : [], target);
    if (!resolved) return `${name()}: link to ${shown} points outside the folder`;
    if (entry.type === "h") {
      // A hard link to a symlink is fine (another name for the link itself); one whose path
      // passes through a symlink is not.
      const via = this.throughSymlink(resolved);
      if (via) return `${name()}: hard link through the symlink ${via}`;
    }
    return undefined;
  }

  /** The symlink member that is a proper prefix of `parts`, if any, for a message. */
  private throughSymlink(parts: readonly Buffer[]): string | undefined {
    if (this.symlinks.size === 0) return undefined;
    for (let i = 1; i < parts.length; i += 1) {
      const prefix = parts.slice(0, i);
      if (this.symlinks.has(key(prefix))) return quoteName(joinComponents(prefix));
    }
    return undefined;
  }

  /** "a; b; c (and 4 more)" for a message, or undefined when nothing is unsafe. */
  unsafeSummary(): string | undefined {
    return summary(this.unsafe, this.unsafeCount);
  }

  unreadableSummary(): string | undefined {
    return summary(this.unreadable, this.unreadableCount);
  }
}

function summary(named: readonly string[], count: number): string | undefined {
  if (!count) return undefined;
  return `${named.join("; ")}${count > named.length ? ` (and ${count - named.length} more)` : ""}`;
}
