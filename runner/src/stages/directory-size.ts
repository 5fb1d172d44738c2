import { lstat, readdir } from "node:fs/promises";
import path from "node:path";

/** Bytes of the regular files below `dir`: the media stream's size estimate for part sizing. */
export async function directoryBytes(dir: string): Promise<number> {
  let total = 0;
  const entries = await readdir(dir, { withFileTypes: true });
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) total += await directoryBytes(full);
    else if (entry.isFile()) total += (await lstat(full)).size;
  }
  return total;
}

/** Regular files below `dir` and their bytes, counted the way tar's listing counts them. */
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
