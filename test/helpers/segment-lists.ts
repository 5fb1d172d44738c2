// The metadata chunks a store-format set's segment list (media-segments.txt) names: content
// objects in store/objects/ like the files' objects, which tests that count the files' objects
// leave out.
import { readFile, readdir } from "node:fs/promises";
import path from "node:path";

/** The chunk keys (store/objects/...) a segment list's text names: three a segment. */
export function chunkKeysOf(list: string): string[] {
  return list
    .split("\n")
    .slice(1)
    .filter(Boolean)
    .flatMap((line) => {
      const f = line.split(" ");
      return [f[0]!, f[3]!, f[6]!];
    });
}

/** Every chunk key the segment lists under a file:// destination name. */
export async function chunkKeysUnder(dest: string): Promise<Set<string>> {
  const keys = new Set<string>();
  for (const e of await readdir(dest, { recursive: true, withFileTypes: true }).catch(() => []))
    if (e.isFile() && e.name === "media-segments.txt")
      for (const k of chunkKeysOf(await readFile(path.join(e.parentPath, e.name), "utf8"))) keys.add(k);
  return keys;
}

/**
 * What a set references (gc's mark of it): the chunks its segment list names and the keys in its
 * object-list chunks (each segment's third), read with `read`; each once, in byte order.
 */
export async function referencedBy(list: string, read: (key: string) => Promise<Buffer>): Promise<string[]> {
  const chunks = chunkKeysOf(list);
  const out = new Set(chunks);
  for (let i = 2; i < chunks.length; i += 3)
    for (const k of (await read(chunks[i]!)).toString("utf8").split("\n").filter(Boolean)) out.add(k);
  return [...out].sort();
}

/**
 * Every object file under a file:// destination's store/objects/ (none before the first object):
 * files' contents and chunks, sorted.
 */
export async function storeObjectFiles(dest: string): Promise<string[]> {
  const out: string[] = [];
  const objects = path.join(dest, "store", "objects");
  for (const e of await readdir(objects, { recursive: true, withFileTypes: true }).catch(() => []))
    if (e.isFile() && !e.name.startsWith(".")) out.push(path.join(e.parentPath, e.name));
  return out.sort();
}

/** The files' content objects: the store's objects less the chunks the segment lists name. */
export async function contentObjectFiles(dest: string): Promise<string[]> {
  const chunks = await chunkKeysUnder(dest);
  return (await storeObjectFiles(dest)).filter((f) => !chunks.has(path.relative(dest, f)));
}
