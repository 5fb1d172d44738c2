// Property: a wild media folder big enough to be cut into several segments (docs/MANIFEST.md,
// "Segments") goes through a first store backup, a change, and a second backup that reuses the
// untouched segments; both sets then verify in full and restore byte for byte. The generated trees
// of media-tree-property.test.ts hold a few dozen entries, so all of a set's metadata fits in one
// segment there. Here 5,000 filler entries are spread over every folder of a generated wild tree,
// so segment boundaries fall next to hostile names (newlines, non-UTF-8 bytes, "-rf"), inside
// restricted folders, and between the names of one hard-link group; the change rewrites, deletes
// and adds files (one with a generated name), so the second set mixes reused and new chunks.
// The restores use the placer workers (EDMS_PLACERS_FROM=1), so those wild entries cross threads.
// PROPERTY_RUNS raises the number of generated trees (a quarter of it here, default 2: ~10-30 s a tree).
import { lstat, mkdir, mkdtemp, readFile, readdir, rm, unlink, writeFile, link } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ok, runRunner } from "../helpers/runner-cli.js";
import { materializeTree, mediaTreeArb, nameArb, snapshotTree } from "../helpers/media-trees.js";
import { newAgeKey, type AgeKeyPair } from "../helpers/age-key.js";
import { fileStoreEnv } from "../helpers/store-env.js";

const RUNS = Math.max(1, Math.round(Number(process.env.PROPERTY_RUNS ?? 8) / 4));
const FILLER = 5_000;
const KEY = "wild-segments-test-key-0123456789abcdef";

let work: string;
let age: AgeKeyPair;
let runNo = 0;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), "edms-wild-seg-"));
  age = await newAgeKey(work);
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** Every folder under `dir` (itself first), as paths of bytes: names are never decoded. */
async function foldersOf(dir: Buffer): Promise<Buffer[]> {
  const out = [dir];
  for (let i = 0; i < out.length; i += 1)
    for (const name of await readdir(out[i]!, { encoding: "buffer" })) {
      const p = Buffer.concat([out[i]!, Buffer.from("/"), name]);
      if ((await lstat(p)).isDirectory()) out.push(p);
    }
  return out;
}

const under = (folder: Buffer, name: Buffer | string): Buffer =>
  Buffer.concat([folder, Buffer.from("/"), Buffer.isBuffer(name) ? name : Buffer.from(name)]);

/** The `backupId` a backup's "done" line reports. */
function backupIdOf(logs: Array<Record<string, unknown>>): string {
  const done = logs.find((l) => l.stage === "done");
  if (!done) throw new Error("the backup reported no done line");
  return String(done.backupId);
}

describe("wild trees across segment boundaries (property)", () => {
  it(
    `backs up, changes, backs up again and restores ${RUNS} generated multi-segment trees`,
    async () => {
      await fc.assert(
        fc.asyncProperty(
          mediaTreeArb,
          fc.array(fc.nat(), { minLength: 6, maxLength: 6 }),
          nameArb,
          async (tree, picks, newName) => {
            runNo += 1;
            // Plain and age in turn (not drawn): only plain sets' restores use the placer workers.
            const encrypted = runNo % 2 === 0;
            const base = path.join(work, `run-${runNo}`);
            const media = path.join(base, "media");
            const dest = path.join(base, "dest");
            await mkdir(media, { recursive: true });
            try {
              await materializeTree(media, tree);
              // Filler spread over every folder (as root: restricted folders too), a few with names
              // from the hostile generator's alphabet, and one hard-link group whose names sit in
              // the first and the last folder of the walk, so most likely in different segments.
              // Their contents repeat (40 distinct objects): the entries make the segments, and few
              // objects keep an encrypted run's age processes few.
              const folders = await foldersOf(Buffer.from(media));
              const filler: Buffer[] = [];
              for (let i = 0; i < FILLER; i += 1) {
                const folder = folders[(i * 7 + picks[0]!) % folders.length]!;
                const name =
                  i % 97 === 0 ? Buffer.concat([Buffer.from(`f${i}-`), Buffer.from([0xff, 0x0a, 0x2d])]) : `f${i}`;
                const p = under(folder, name);
                await writeFile(p, `filler ${"x".repeat(i % 40)}`);
                filler.push(p);
              }
              await link(filler[0]!, under(folders.at(-1)!, "zz-hard-link-of-f0"));
              const env = fileStoreEnv(dest, media, KEY, {
                // Restores of these sets place their small files by the placer workers, as a set of
                // 10,000 files or more does (store-reader.ts): wild names and hard links across threads.
                EDMS_PLACERS_FROM: "1",
                ...(encrypted ? { ENCRYPTION_RECIPIENTS: age.recipient, AGE_IDENTITY_FILE: age.file } : {}),
              });
              const first = await snapshotTree(media);
              const id1 = backupIdOf(ok("backup 1", await runRunner(["backup", "--tier", "adhoc"], env)).logs);
              const list1 = await readFile(path.join(dest, "adhoc", id1, "media-segments.txt"), "utf8");
              const segments1 = list1.split("\n").filter(Boolean).length - 1;
              // The point of this test: the set is cut into several segments.
              expect(segments1, "segments of the first set").toBeGreaterThanOrEqual(3);

              // The change: a filler file rewritten (other size), one deleted, one new file with a
              // generated name in a generated folder, and a hard link's other name rewritten.
              await writeFile(filler[picks[1]! % FILLER]!, `rewritten ${picks[2]}`);
              const gone = filler[1 + (picks[3]! % (FILLER - 1))]!;
              await unlink(gone);
              const newFile = under(folders[picks[4]! % folders.length]!, newName);
              const exists = await lstat(newFile).then(
                () => true,
                () => false,
              );
              if (!exists) await writeFile(newFile, `new ${picks[5]}`);
              await writeFile(under(folders.at(-1)!, "zz-hard-link-of-f0"), "both names of f0 change");
              const second = await snapshotTree(media);
              const id2 = backupIdOf(ok("backup 2", await runRunner(["backup", "--tier", "adhoc"], env)).logs);
              const manifest2 = JSON.parse(await readFile(path.join(dest, "adhoc", id2, "manifest.json"), "utf8")) as {
                media: { store: { uploadedChunks: number } };
              };
              const list2 = await readFile(path.join(dest, "adhoc", id2, "media-segments.txt"), "utf8");
              const segments2 = list2.split("\n").filter(Boolean).length - 1;
              // The change touched at most five segments (and the folders' entries in them) of ~10:
              // some chunks are new, and the rest are the first set's, reused.
              expect(manifest2.media.store.uploadedChunks).toBeGreaterThan(0);
              expect(manifest2.media.store.uploadedChunks).toBeLessThan(segments2 * 3);

              for (const id of [id1, id2]) ok(`verify ${id}`, await runRunner(["verify", id, "--full"], env));
              for (const [id, want] of [
                [id1, first],
                [id2, second],
              ] as const) {
                const target = path.join(base, `restored-${id}`);
                ok(
                  `restore ${id}`,
                  await runRunner(["restore", id, "--media-only", "--media-dir", target, "--yes"], env),
                );
                expect(await snapshotTree(target), `restore of ${id}`).toEqual(want);
              }
            } finally {
              await rm(base, { recursive: true, force: true });
            }
          },
        ),
        { numRuns: RUNS },
      );
    },
    15 * 60_000,
  );
});
