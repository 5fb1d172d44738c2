import { lstat, readdir } from "node:fs/promises";

const SLASH = Buffer.from("/");

/**
 * Regular files below `dir` and their bytes, counted the way tar's listing counts them: the media
 * stream's size estimate (part sizing), the drill's check of what a restore wrote, and (through
 * `onFile`) each file's path relative to `dir`. Names stay bytes throughout: a name that is not
 * valid UTF-8 must neither break the walk nor stop matching the database's path exactly.
 * Symlinks are not followed, as tar does not follow them either.
 */
export async function directoryTally(
  dir: string,
  onFile?: (relative: Buffer) => void,
): Promise<{ files: number; sourceBytes: number }> {
  const tally = { files: 0, sourceBytes: 0 };
  const root = Buffer.from(dir);
  const walk = async (relative: Buffer | undefined): Promise<void> => {
    const full = relative ? Buffer.concat([root, SLASH, relative]) : root;
    for (const entry of await readdir(full, { withFileTypes: true, encoding: "buffer" })) {
      const name = relative ? Buffer.concat([relative, SLASH, entry.name]) : entry.name;
      if (entry.isDirectory()) await walk(name);
      else if (entry.isFile()) {
        tally.files += 1;
        tally.sourceBytes += (await lstat(Buffer.concat([root, SLASH, name]))).size;
        onFile?.(name);
      }
    }
  };
  await walk(undefined);
  return tally;
}
