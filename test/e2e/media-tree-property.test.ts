// Property: any media folder that real users or hostile ones produce goes through backup to S3,
// verify, drill and restore into a new folder, and comes back byte for byte: names as bytes,
// contents, modes, mtimes (whole seconds), link targets, hard-link groups. The runner runs as
// uid 10001, as in the pod, so restricted folders mean something even though CI runs as root.
// Each tree goes through both media formats: the tar archive and the content store
// (MEDIA_FORMAT=store, encrypted with age for some trees), the store on a second backup too, which
// must upload nothing and still restore the same tree.
// PROPERTY_RUNS raises the number of generated trees (default 8, for CI time: about 20 s per tree).
import { mkdir, mkdtemp, chown, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { runRunner, type RunAs, type RunnerResult } from "../helpers/runner-cli.js";
import { createTestBucket, type TestBucket } from "../helpers/s3-bucket.js";
import { materializeTree, mediaTreeArb, snapshotTree } from "../helpers/media-trees.js";
import { newAgeKey, type AgeKeyPair } from "../helpers/age-key.js";
import { chunkKeysOf } from "../helpers/segment-lists.js";

type Variant = { format: "tar" } | { format: "store"; encrypted: boolean };

const s3Endpoint = inject("s3Endpoint");
const RUNS = Number(process.env.PROPERTY_RUNS ?? 8);
const POD: RunAs = { uid: 10001, gid: 10001 };
const asRoot = process.getuid?.() === 0;

let bucket: TestBucket;
let work: string;
let home: string;
let runNo = 0;
let age: AgeKeyPair;

beforeAll(async () => {
  bucket = await createTestBucket(s3Endpoint);
  work = await mkdtemp(path.join(tmpdir(), "edms-prop-"));
  home = path.join(work, "home");
  await mkdir(home);
  age = await newAgeKey(work);
  if (asRoot) {
    await chown(work, POD.uid, POD.gid);
    await chown(home, POD.uid, POD.gid);
    await chown(age.file, POD.uid, POD.gid);
  }
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

function expectOk(step: string, r: RunnerResult): void {
  if (r.code !== 0) throw new Error(`${step} exited ${r.code}:\n${r.stderr}\n${r.stdout.slice(-4000)}`);
}

describe("media trees as users have them (property)", () => {
  it(
    `round-trips ${RUNS} generated trees through backup, verify, drill and restore as uid ${POD.uid}`,
    async () => {
      await fc.assert(
        fc.asyncProperty(mediaTreeArb, fc.boolean(), async (tree, encrypted) => {
          runNo += 1;
          const base = path.join(work, `run-${runNo}`);
          const media = path.join(base, "media");
          const restoredParent = path.join(base, "restored");
          await mkdir(media, { recursive: true });
          await mkdir(restoredParent);
          if (asRoot) {
            await chown(base, POD.uid, POD.gid);
            await chown(restoredParent, POD.uid, POD.gid);
          }
          try {
            await materializeTree(media, tree, asRoot ? POD : undefined);
            const before = await snapshotTree(media);
            const variants: Variant[] = [{ format: "tar" }, { format: "store", encrypted }];
            for (const variant of variants) {
              const name = variant.format === "tar" ? "tar" : `store${variant.encrypted ? "-age" : ""}`;
              const env = {
                ...bucket.env(`prop-${runNo}-${name}`),
                HOME: home,
                BACKUP_DATABASE: "false",
                MEDIA_DIR: media,
                MEDIA_FORMAT: variant.format,
                ...(variant.format === "store"
                  ? {
                      MEDIA_STORE_KEY: "property-test-store-key-0123456789abcdef",
                      ...(variant.encrypted
                        ? { ENCRYPTION_RECIPIENTS: age.recipient, AGE_IDENTITY_FILE: age.file }
                        : {}),
                    }
                  : {}),
              };
              const backups = variant.format === "store" ? 2 : 1;
              const ids: string[] = [];
              for (let n = 1; n <= backups; n += 1) {
                const backup = await runRunner(["backup", "--tier", "adhoc"], env, POD);
                expectOk(`${name} backup ${n}`, backup);
                const done = backup.logs.find((l) => l.stage === "done");
                expect(done, `${name} backup ${n}`).toBeDefined();
                ids.push(String(done!.backupId));
              }
              expectOk(`${name} verify`, await runRunner(["verify", "latest", "--tier", "adhoc", "--full"], env, POD));
              expectOk(`${name} drill`, await runRunner(["drill", "latest", "--tier", "adhoc"], env, POD));
              const target = path.join(restoredParent, name);
              expectOk(
                `${name} restore`,
                await runRunner(
                  ["restore", "latest", "--tier", "adhoc", "--media-only", "--media-dir", target, "--yes"],
                  env,
                  POD,
                ),
              );
              // The source must be untouched too (the backup reads it only).
              expect(await snapshotTree(media), name).toEqual(before);
              expect(await snapshotTree(target), name).toEqual(before);
              if (variant.format === "store") {
                // The second set reuses every object of the first: none uploaded, none stored twice.
                const prefix = `prop-${runNo}-${name}/`;
                const keys = (await bucket.keys()).filter((k) => k.startsWith(prefix));
                expect(keys.filter((k) => k.endsWith("/manifest.json"))).toHaveLength(2);
                // The second run's own manifest, by the id it reported: two runs in one second sort
                // by their ids' random suffixes, so "the later key" may be the first run's set.
                const second = JSON.parse((await bucket.get(`${prefix}adhoc/${ids[1]}/manifest.json`)).toString()) as {
                  formatVersion: number;
                  media: {
                    format: string;
                    layout: string;
                    store: { objects: number; uploadedObjects: number; uploadedChunks: number };
                  };
                };
                expect(second.formatVersion).toBe(4);
                expect(second.media).toMatchObject({ format: "store", layout: "segments" });
                expect(second.media.store).toMatchObject({ uploadedObjects: 0, uploadedChunks: 0 });
                // Both sets name the same metadata chunks (nothing changed); the rest are the files'.
                const [a, b] = await Promise.all(
                  ids.map(async (id) =>
                    chunkKeysOf((await bucket.get(`${prefix}adhoc/${id}/media-segments.txt`)).toString()),
                  ),
                );
                expect(b).toEqual(a);
                const objects = keys.filter((k) => k.startsWith(`${prefix}store/objects/`));
                expect(objects).toHaveLength(second.media.store.objects + new Set(a).size);
              }
            }
          } finally {
            await rm(base, { recursive: true, force: true });
          }
        }),
        { numRuns: RUNS, interruptAfterTimeLimit: 10 * 60_000, markInterruptAsFailure: false },
      );
    },
    20 * 60_000,
  );
});
