import { lstat, readdir } from "node:fs/promises";
import path from "node:path";

/**
 * Regular files below `dir` and their bytes, counted the way tar's listing counts them: the media
 * stream's size estimate (part sizing) and the drill's check of what a restore wrote.
 */
export async function directoryTally(dir: string): Promise<{ files: number; sourceBytes: number }> {
  const tally = { files: 0, sourceBytes: 0 };
  const walk = async (current: string): Promise<void> => {
    for (const entry of await readdir(current, { withFileTypes: true })) {
      const full = path.join(current, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile()) {
        tally.files += 1;
        tally.sourceBytes += (await lstat(full)).size;
      }
    }
  };
  await walk(dir);
  return tally;
}
