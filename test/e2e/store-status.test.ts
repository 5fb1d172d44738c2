// `status` on a media-store destination: the content objects stored (all of them vs those the
// newest set references) and the dedup ratio, in the table and in --json, on file:// and on moto,
// plain and age-encrypted (status holds no identity: it never needs an index). The oracle is the
// media tree itself (distinct contents and their sizes, hashed here) and the store's own listing.
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, readdir, rm, stat, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { newAgeKey, type AgeKeyPair } from "../helpers/age-key.js";
import { runRunner, type RunnerResult } from "../helpers/runner-cli.js";
import { createTestBucket } from "../helpers/s3-bucket.js";

const s3Endpoint = inject("s3Endpoint");
const KEY = "store-status-test-key-0123456789abcdef";

interface StoreUsage {
  objects: number;
  storedBytes: number;
  newest?: { tier: string; backupId: string; objects: number; bytes: number | null };
  sets: number;
  setsSourceBytes: number;
  dedupRatio: number | null;
}

let work: string;
let age: AgeKeyPair;
beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), "edms-store-status-"));
  age = await newAgeKey(work);
});
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

function ok(step: string, r: RunnerResult): RunnerResult {
  if (r.code !== 0) throw new Error(`${step} exited ${r.code}:\n${r.stderr}\n${r.stdout.slice(-3000)}`);
  return r;
}

/** Distinct contents of the tree and their sizes, and the files' bytes (what media.sourceBytes counts). */
async function treeFigures(dir: string): Promise<{ distinct: Map<string, number>; fileBytes: number }> {
  const distinct = new Map<string, number>();
  let fileBytes = 0;
  for (const name of await readdir(dir, { recursive: true })) {
    const file = path.join(dir, name);
    if (!(await stat(file)).isFile()) continue;
    const bytes = await readFile(file);
    fileBytes += bytes.length;
    distinct.set(createHash("sha256").update(bytes).digest("hex"), bytes.length);
  }
  return { distinct, fileBytes };
}

const sum = (values: Iterable<number>) => [...values].reduce((a, b) => a + b, 0);

async function makeTree(name: string): Promise<string> {
  const media = path.join(work, name);
  await mkdir(path.join(media, "docs"), { recursive: true });
  for (let i = 0; i < 5; i += 1) await writeFile(path.join(media, "docs", `doc-${i}.pdf`), randomBytes(3000 + i));
  // Two names, one content: stored once, counted twice in the files' bytes.
  await writeFile(path.join(media, "a.txt"), "the same words\n");
  await writeFile(path.join(media, "b.txt"), "the same words\n");
  return media;
}

async function status(env: Record<string, string>): Promise<{ json: StoreUsage; table: string }> {
  const statusEnv = { ...env, STATUS_TIERS: "daily" };
  const json = JSON.parse(ok("status --json", await runRunner(["status", "--json"], statusEnv)).stdout) as {
    store?: StoreUsage;
  };
  const table = ok("status", await runRunner(["status"], statusEnv)).stdout;
  expect(json.store, "status --json has a store member").toBeDefined();
  return { json: json.store!, table };
}

const destinations = [
  {
    name: "file://",
    env: async (media: string, extra: Record<string, string>) => ({
      BACKUP_DESTINATION: `file://${await mkdtemp(path.join(work, "dest-"))}`,
      ...common(media, extra),
    }),
  },
  {
    name: "moto",
    env: async (media: string, extra: Record<string, string>) => ({
      ...(await createTestBucket(s3Endpoint)).env(),
      ...common(media, extra),
    }),
  },
];

function common(media: string, extra: Record<string, string>): Record<string, string> {
  return { BACKUP_DATABASE: "false", MEDIA_DIR: media, MEDIA_FORMAT: "store", MEDIA_STORE_KEY: KEY, ...extra };
}

describe.each(destinations)("status of a media store on $name", ({ name, env: makeEnv }) => {
  it("plain: stored bytes are the distinct contents, the newest set's are what it still references, the ratio what full copies would take", async () => {
    const media = await makeTree(`plain-${name.replace(/\W/g, "")}`);
    const env = await makeEnv(media, {});
    const first = await treeFigures(media);
    ok("backup 1", await runRunner(["backup", "--tier", "daily"], env));
    ok("backup 2", await runRunner(["backup", "--tier", "daily"], env));
    let { json, table } = await status(env);
    // Unencrypted objects hold the contents exactly: stored bytes = distinct contents' bytes.
    expect(json).toMatchObject({
      objects: first.distinct.size,
      storedBytes: sum(first.distinct.values()),
      sets: 2,
      setsSourceBytes: 2 * first.fileBytes,
    });
    expect(json.newest).toMatchObject({
      tier: "daily",
      objects: first.distinct.size,
      bytes: sum(first.distinct.values()),
    });
    expect(json.dedupRatio).toBeCloseTo((2 * first.fileBytes) / sum(first.distinct.values()), 6);
    expect(table).toMatch(
      /^STORE: 6 content objects, .* stored; the newest store set \(daily\/\S+\) references 6 of them, .* \(100%\); 2 complete store set\(s\) hold .* of media files: dedup ratio 2\.\d+x$/m,
    );

    // A document deleted and one added: the store keeps the deleted one's object (nothing frees
    // it before gc), the newest set no longer references it.
    await unlink(path.join(media, "docs", "doc-0.pdf"));
    await writeFile(path.join(media, "docs", "new.pdf"), randomBytes(4000));
    const third = await treeFigures(media);
    ok("backup 3", await runRunner(["backup", "--tier", "daily"], env));
    ({ json, table } = await status(env));
    const all = new Map([...first.distinct, ...third.distinct]);
    expect(json).toMatchObject({ objects: all.size, storedBytes: sum(all.values()), sets: 3 });
    expect(json.newest).toMatchObject({ objects: third.distinct.size, bytes: sum(third.distinct.values()) });
    expect(json.setsSourceBytes).toBe(2 * first.fileBytes + third.fileBytes);
    expect(json.dedupRatio).toBeCloseTo((2 * first.fileBytes + third.fileBytes) / sum(all.values()), 6);
  });

  it("age-encrypted: status has no identity and reads no index, yet reports the same figures from the manifests", async () => {
    const media = await makeTree(`enc-${name.replace(/\W/g, "")}`);
    const env = await makeEnv(media, { ENCRYPTION_RECIPIENTS: age.recipient });
    const tree = await treeFigures(media);
    ok("backup 1", await runRunner(["backup", "--tier", "daily"], env));
    ok("backup 2", await runRunner(["backup", "--tier", "daily"], env));
    const { json } = await status(env);
    expect(json.objects).toBe(tree.distinct.size);
    // Sealed objects are larger than their contents (age's header and tags).
    expect(json.storedBytes).toBeGreaterThan(sum(tree.distinct.values()));
    // Nothing deleted: the newest set references every object.
    expect(json.newest).toMatchObject({ objects: tree.distinct.size, bytes: json.storedBytes });
    expect(json.setsSourceBytes).toBe(2 * tree.fileBytes);
  });
});

it("a destination without a media store has no store figures", async () => {
  const media = await makeTree("tar-only");
  const dest = await mkdtemp(path.join(work, "dest-tar-"));
  const env = { BACKUP_DESTINATION: `file://${dest}`, BACKUP_DATABASE: "false", MEDIA_DIR: media, MEDIA_FORMAT: "tar" };
  ok("backup", await runRunner(["backup", "--tier", "daily"], env));
  const out = JSON.parse(
    ok("status", await runRunner(["status", "--json"], { ...env, STATUS_TIERS: "daily" })).stdout,
  ) as {
    store?: unknown;
  };
  expect(out.store).toBeUndefined();
  expect(ok("status", await runRunner(["status"], { ...env, STATUS_TIERS: "daily" })).stdout).not.toMatch(/STORE:/);
});
