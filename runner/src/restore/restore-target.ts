/**
 * The one place that decides whether a folder may be restored over. Every decision is taken on
 * the resolved path (symbolic links and `..` resolved by the kernel, realpath(3)), never on the
 * string the operator typed: `/.`, `//`, `/tmp/..` and a link to `/` are all `/`.
 *
 * A link to a folder is followed: the data goes into the link's target and the link stays, so a
 * volume mounted elsewhere and linked at MEDIA_DIR receives the restore (replacing the link with
 * a folder would put the data on the parent's disk).
 */
import { lstat, readdir, readlink, stat } from "node:fs/promises";
import path from "node:path";
import { ConfigError } from "../errors.js";
import { pathRelation, resolvePath } from "../paths/real-path.js";
import { settingLabel } from "../settings/settings-table.js";

export interface RestoreTarget {
  /** What the operator gave (MEDIA_DIR, --media-dir). */
  given: string;
  /** The resolved folder the restore replaces (or creates). */
  dir: string;
  /** Whether `dir` exists already. */
  exists: boolean;
  /** Set when `given` is a symbolic link (kept as it is; `dir` is its target). */
  link?: string;
}

export interface TargetGuards {
  /** The file:// destination's folder: a restore never writes over or inside the backups it reads. */
  destinationRoot?: string;
  /** A legacy archive file being restored (--from-archive): it must not be inside the target. */
  sourceFile?: string;
}

function code(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

/** Returns the accepted target, or throws a ConfigError (exit 2) naming every problem; touches nothing. */
export async function acceptRestoreTarget(given: string, guards: TargetGuards = {}): Promise<RestoreTarget> {
  const label = `${settingLabel("MEDIA_DIR")} ${given}`;
  if (!path.isAbsolute(given)) throw new ConfigError([`${label}: must be an absolute path`]);
  // A trailing slash would make lstat follow a link; the link itself is what is asked about.
  given = given.replace(/(?<=.)\/+$/, "");
  const problems: string[] = [];
  const linkInfo = await lstat(given).catch(() => undefined);
  let resolved: { real: string; exists: boolean };
  try {
    resolved = await resolvePath(given);
  } catch (error) {
    const why = code(error) === "ENOTDIR" ? "a part of the path is not a folder" : (error as Error).message;
    throw new ConfigError([`${label}: cannot be resolved (${why})`]);
  }
  const { real, exists } = resolved;
  const shown = real === given ? "" : ` (resolves to ${real})`;
  if (linkInfo?.isSymbolicLink() && !exists) {
    problems.push(`${label}: is a symbolic link to ${await readlink(given)}, which does not exist; create the folder`);
  }
  if (real === "/") problems.push(`${label}: refusing to restore over /${shown}`);
  const info = exists ? await stat(real) : undefined;
  if (info && !info.isDirectory()) {
    problems.push(`${label}: is not a folder${shown}; give the media folder (it is created when missing)`);
  }
  for (const [what, other] of [
    ["the backup destination", guards.destinationRoot],
    ["the archive being restored", guards.sourceFile],
  ] as const) {
    if (!other) continue;
    const otherReal = (await resolvePath(other)).real;
    const relation = pathRelation(real, otherReal);
    if (relation === "same" || relation === "contains")
      problems.push(`${label}: holds ${what} (${otherReal})${shown}; a restore would replace it`);
    else if (relation === "inside" && what === "the backup destination")
      problems.push(`${label}: is inside the backup destination (${otherReal})${shown}; restore the media elsewhere`);
  }
  if (problems.length) throw new ConfigError(problems);
  return { given, dir: real, exists, ...(linkInfo?.isSymbolicLink() ? { link: given } : {}) };
}

/**
 * A --path restore writes into a folder that holds nothing yet, so it never replaces anything:
 * not the live MEDIA_DIR, not a folder with contents (exit 2, nothing touched).
 */
export async function refuseSelectionTarget(given: string, dir: string, exists: boolean, live?: string): Promise<void> {
  const label = `--media-dir ${given}`;
  if (live && (await resolvePath(live)).real === dir)
    throw new ConfigError([
      `${label}: is the live media folder (MEDIA_DIR); --path restores into a new or empty folder, never over the live one: give another --media-dir and copy what you need from it`,
    ]);
  if (!exists) return;
  const names = await readdir(dir);
  if (names.length)
    throw new ConfigError([
      `${label}: is not empty (${names.length} entries, e.g. ${JSON.stringify(names[0])}); --path restores into a new or empty folder only, so nothing is ever replaced`,
    ]);
}
