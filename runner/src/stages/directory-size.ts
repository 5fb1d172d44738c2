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
