/**
 * Paths as the kernel sees them: every comparison between two folders (the media folder, the
 * backup destination, an archive being restored) is taken on realpath(3) of each, never on the
 * string the operator typed (`/.`, `//`, `/tmp/..` and a link to `/` are all `/`). Shared by
 * backup and restore, which never import each other.
 */
import { realpath } from "node:fs/promises";
import path from "node:path";
import { settingLabel } from "../settings/settings-table.js";

function code(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

/**
 * The real path of `p`: realpath(3) of it, or of its longest existing ancestor with the missing
 * rest appended (a target that does not exist yet is created by the restore).
 */
export async function resolvePath(p: string): Promise<{ real: string; exists: boolean }> {
  const absolute = path.isAbsolute(p) ? p : path.resolve(p);
  try {
    return { real: await realpath(absolute), exists: true };
  } catch (error) {
    if (code(error) !== "ENOENT") throw error;
  }
  const parent = path.dirname(absolute);
  // `absolute` is "/" only when realpath("/") failed, which does not happen.
  if (parent === absolute) return { real: absolute, exists: true };
  const { real } = await resolvePath(parent);
  return { real: path.join(real, path.basename(absolute)), exists: false };
}

/** How folder `a` lies relative to folder `b` (both already resolved). */
export function pathRelation(a: string, b: string): "same" | "inside" | "contains" | undefined {
  if (a === b) return "same";
  if (a.startsWith(b.endsWith("/") ? b : `${b}/`)) return "inside";
  if (b.startsWith(a.endsWith("/") ? a : `${a}/`)) return "contains";
  return undefined;
}

/** Whether a backup destination folder lies in (or is) the media folder: each backup would hold every earlier one. */
export async function destinationInsideMedia(mediaDir: string, destinationRoot: string): Promise<string | undefined> {
  const [media, dest] = await Promise.all([resolvePath(mediaDir), resolvePath(destinationRoot)]);
  const relation = pathRelation(dest.real, media.real);
  if (relation === "same" || relation === "inside")
    return `${settingLabel("BACKUP_DESTINATION")}: ${dest.real} is inside the media folder ${media.real}; each backup would contain every earlier one. Keep backups outside MEDIA_DIR`;
  return undefined;
}
