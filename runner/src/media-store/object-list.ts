/**
 * The object list of a store-format set written before segments (`media-objects.txt`): the content
 * objects its index references, one key a line, in byte order, after a header naming the set. Plain
 * text even in an encrypted set: the keys are keyed hashes a bucket listing shows anyway, so gc
 * marks from it without the store key or the age identity. Covered by the manifest
 * (`media.objectList`: size and sha256), like the index. Sets in segments carry their object list
 * in chunks instead (segment-list.ts); gc still reads this one for the older sets. Also here: the
 * objects a backup references (ReferencedObjects), for its check before the manifest.
 *
 * Why plain text and not zstd: keyed names are random hex, which compresses about 2:1 at best; a
 * child process per set for that is not worth it, and `cat` reads the list by hand.
 */
import { createInterface } from "node:readline";
import { pipeline } from "node:stream";
import { finished } from "node:stream/promises";
import { STORE_OBJECT_KEY_RE, objectName } from "../contract.js";
import { RunnerError } from "../errors.js";
import type { StoredObjectEntry } from "../catalog/manifest.js";
import type { ObjectCatalog } from "./object-catalog.js";
import { KeyRecords, type KeyRecordsOptions } from "./key-records.js";
import { ChecksumError, checksumProblem } from "../readback/verified-feed.js";
import { DigestMeter } from "../stages/digest-meter.js";
import type { ObjectStore } from "../store/object-store.js";

export const OBJECT_LIST_OBJECT = objectName("objects");
const HEADER = "edms-media-objects 1 ";
/**
 * The objects a set references. One the start's listing has is only marked used in that listing's
 * catalog (its one byte a record); only objects this run stored are kept here (key-records.ts: 41
 * bytes each, in TMPDIR beyond the first 65,536), so at 1,000,000 unchanged files the set's
 * references cost no memory beyond the catalog (they cost 41 MB when every file was recorded; issue
 * 22: peak RSS <= 200 MiB at 1,000,000 files). The catalog must therefore stay until the last
 * `sorted()`.
 */
export class ReferencedObjects {
  private readonly stored: KeyRecords;

  constructor(
    private readonly listed: ObjectCatalog,
    options?: KeyRecordsOptions,
  ) {
    this.stored = new KeyRecords(options);
  }

  /** Records a reference; true when `key` is a listed object referenced for the first time. */
  add(key: string, bytes: number): boolean {
    const first = this.listed.use(key);
    if (first === undefined) this.stored.add(key, bytes);
    return first === true;
  }

  /** Each distinct key once, in byte order, with its stored size (the listed ones with the listing's). */
  *sorted(): Generator<[string, number]> {
    const a = this.listed.usedObjects();
    const b = this.stored.sorted();
    let x = a.next();
    let y = b.next();
    while (!x.done || !y.done) {
      if (y.done || (!x.done && x.value[0] < y.value[0])) {
        yield x.value;
        x = a.next();
      } else if (x.done || y.value[0] < x.value[0]) {
        yield y.value;
        y = b.next();
      } else {
        // Listed and stored again (a store that listed it late): once, with the listing's size.
        yield x.value;
        x = a.next();
        y = b.next();
      }
    }
  }

  /** Only the keys this run stored or found by asking the store (not in the listing), each once, in byte order. */
  storedSorted(): Generator<[string, number]> {
    return this.stored.sorted();
  }

  /** Removes what the stored keys keep in TMPDIR (key-records.ts). */
  dispose(): void {
    this.stored.dispose();
  }
}

/**
 * The keys of a set's object list. With `expected` (the manifest's entry) the stored bytes are
 * hashed as they are read and the generator throws after the last key unless they match, so a
 * caller that runs it to the end trusts nothing from a damaged list. Every line must be a content
 * object's key and the header must name `backupId`.
 */
export async function* readObjectList(
  store: ObjectStore,
  setPrefix: string,
  backupId: string,
  expected?: Pick<StoredObjectEntry, "bytes" | "sha256">,
): AsyncGenerator<string> {
  const where = `${setPrefix}/${OBJECT_LIST_OBJECT}`;
  const meter = new DigestMeter();
  pipeline(await store.get(where), meter, () => undefined);
  let lineNo = 0;
  try {
    for await (const line of createInterface({ input: meter, crlfDelay: Infinity })) {
      lineNo += 1;
      if (lineNo === 1) {
        if (line !== `${HEADER}${backupId}`)
          throw new RunnerError(
            `${where}: not the object list of ${backupId} (its first line is not "${HEADER}${backupId}")`,
          );
        continue;
      }
      if (!STORE_OBJECT_KEY_RE.test(line))
        throw new RunnerError(`${where}: line ${lineNo} is not a content object's key`);
      yield line;
    }
    if (lineNo === 0) throw new RunnerError(`${where}: the object list is empty`);
  } catch (error) {
    meter.destroy();
    throw error;
  }
  await finished(meter).catch(() => undefined);
  if (!expected) return;
  const problem = meter.finished
    ? checksumProblem(where, { key: where, ...expected }, meter.bytes, meter.sha256)
    : `${where}: the download ended before the whole object list was read`;
  if (problem) throw new ChecksumError(problem);
}
