// `status` on a media-store destination: the content objects stored (all of them vs those the
// newest set references) and the dedup ratio, in the table and in --json, on file:// and on moto,
// plain and age-encrypted (status holds no identity: it never needs an index). The oracle is the
// media tree itself (distinct contents and their sizes, hashed here) and the sets' metadata chunks
// (named by their segment lists, sized from the store): both are content objects.
// The exporter's edms_backup_store_* series must equal status's figures and pass promtool's lint.
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, readdir, rm, stat, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { newAgeKey, type AgeKeyPair } from "../helpers/age-key.js";
import { ok, runRunner, startRunner } from "../helpers/runner-cli.js";
import { freePort } from "../helpers/pg-cluster.js";
import { requireTool } from "../helpers/prometheus.js";
import { createTestBucket } from "../helpers/s3-bucket.js";
import { chunkKeysOf } from "../helpers/segment-lists.js";

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

/** The distinct chunks the segment lists name (of the set `backupId` only, when given): count and stored bytes. */
type ChunkFigures = (backupId?: string) => Promise<{ count: number; bytes: number }>;

async function figuresOf(
  lists: Array<{ key: string; text: string }>,
  backupId: string | undefined,
  size: (key: string) => Promise<number>,
) {
  const keys = new Set(lists.filter((l) => !backupId || l.key.includes(backupId)).flatMap((l) => chunkKeysOf(l.text)));
  let bytes = 0;
  for (const k of keys) bytes += await size(k);
  return { count: keys.size, bytes };
}

const destinations = [
  {
    name: "file://",
    site: async (media: string, extra: Record<string, string>) => {
      const dest = await mkdtemp(path.join(work, "dest-"));
      const chunks: ChunkFigures = async (backupId) => {
        const lists = [];
        for (const e of await readdir(dest, { recursive: true, withFileTypes: true }))
          if (e.name === "media-segments.txt") {
            const key = path.join(e.parentPath, e.name);
            lists.push({ key, text: await readFile(key, "utf8") });
          }
        return figuresOf(lists, backupId, async (k) => (await stat(path.join(dest, k))).size);
      };
      return { env: { BACKUP_DESTINATION: `file://${dest}`, ...common(media, extra) }, chunks };
    },
  },
  {
    name: "moto",
    site: async (media: string, extra: Record<string, string>) => {
      const bucket = await createTestBucket(s3Endpoint);
      const chunks: ChunkFigures = async (backupId) => {
        const lists = [];
        for (const key of (await bucket.keys()).filter((k) => k.endsWith("/media-segments.txt")))
          lists.push({ key, text: (await bucket.get(key)).toString() });
        const prefix = lists[0]!.key.split("/daily/")[0];
        return figuresOf(lists, backupId, async (k) => (await bucket.get(`${prefix}/${k}`)).length);
      };
      return { env: { ...bucket.env(), ...common(media, extra) }, chunks };
    },
  },
];

function common(media: string, extra: Record<string, string>): Record<string, string> {
  return { BACKUP_DATABASE: "false", MEDIA_DIR: media, MEDIA_FORMAT: "store", MEDIA_STORE_KEY: KEY, ...extra };
}

describe.each(destinations)("status of a media store on $name", ({ name, site }) => {
  it("plain: stored bytes are the distinct contents, the newest set's are what it still references, the ratio what full copies would take", async () => {
    const media = await makeTree(`plain-${name.replace(/\W/g, "")}`);
    const { env, chunks } = await site(media, {});
    const first = await treeFigures(media);
    ok("backup 1", await runRunner(["backup", "--tier", "daily"], env));
    ok("backup 2", await runRunner(["backup", "--tier", "daily"], env));
    let { json, table } = await status(env);
    // Unencrypted objects hold the contents exactly: stored bytes = distinct contents' bytes, plus
    // the sets' metadata chunks (one segment, the same three chunks for both sets).
    const c = await chunks();
    expect(c.count).toBe(3);
    expect(json).toMatchObject({
      objects: first.distinct.size + 3,
      storedBytes: sum(first.distinct.values()) + c.bytes,
      sets: 2,
      setsSourceBytes: 2 * first.fileBytes,
    });
    expect(json.newest).toMatchObject({
      tier: "daily",
      objects: first.distinct.size + 3,
      bytes: sum(first.distinct.values()) + c.bytes,
    });
    const stored = sum(first.distinct.values()) + c.bytes;
    expect(json.dedupRatio).toBeCloseTo((2 * first.fileBytes) / stored, 6);
    expect(table).toMatch(
      /^STORE: 9 content objects, .* stored; the newest store set \(daily\/\S+\) references 9 of them, .* \(100%\); 2 complete store set\(s\) hold .* of media files: dedup ratio \d\.\d+x$/m,
    );

    // A document deleted and one added: the store keeps the deleted one's object (nothing frees
    // it before gc), the newest set no longer references it.
    await unlink(path.join(media, "docs", "doc-0.pdf"));
    await writeFile(path.join(media, "docs", "new.pdf"), randomBytes(4000));
    const third = await treeFigures(media);
    ok("backup 3", await runRunner(["backup", "--tier", "daily"], env));
    ({ json, table } = await status(env));
    const all = new Map([...first.distinct, ...third.distinct]);
    const allChunks = await chunks();
    const newestChunks = await chunks(json.newest!.backupId);
    expect(json).toMatchObject({
      objects: all.size + allChunks.count,
      storedBytes: sum(all.values()) + allChunks.bytes,
      sets: 3,
    });
    expect(json.newest).toMatchObject({
      objects: third.distinct.size + newestChunks.count,
      bytes: sum(third.distinct.values()) + newestChunks.bytes,
    });
    expect(json.setsSourceBytes).toBe(2 * first.fileBytes + third.fileBytes);
    expect(json.dedupRatio).toBeCloseTo(
      (2 * first.fileBytes + third.fileBytes) / (sum(all.values()) + allChunks.bytes),
      6,
    );
  });

  it("age-encrypted: status has no identity and reads no index, yet reports the same figures from the manifests", async () => {
    const media = await makeTree(`enc-${name.replace(/\W/g, "")}`);
    const { env } = await site(media, { ENCRYPTION_RECIPIENTS: age.recipient });
    const tree = await treeFigures(media);
    ok("backup 1", await runRunner(["backup", "--tier", "daily"], env));
    ok("backup 2", await runRunner(["backup", "--tier", "daily"], env));
    const { json } = await status(env);
    expect(json.objects).toBe(tree.distinct.size + 3);
    // Sealed objects are larger than their contents (age's header and tags).
    expect(json.storedBytes).toBeGreaterThan(sum(tree.distinct.values()));
    // Nothing deleted: the newest set references every object.
    expect(json.newest).toMatchObject({ objects: tree.distinct.size + 3, bytes: json.storedBytes });
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

describe("the exporter's media store series", () => {
  it("equal status's store figures, pass promtool's lint, and are absent without a store", async () => {
    const media = await makeTree("exporter");
    const dest = await mkdtemp(path.join(work, "dest-exporter-"));
    const env = { BACKUP_DESTINATION: `file://${dest}`, ...common(media, {}) };
    ok("backup 1", await runRunner(["backup", "--tier", "daily"], env));
    await unlink(path.join(media, "docs", "doc-1.pdf"));
    ok("backup 2", await runRunner(["backup", "--tier", "weekly"], env));
    const { json } = await status(env);
    const scrape = async (destination: string) => {
      const port = await freePort();
      const running = await startRunner(["exporter", "--listen", `127.0.0.1:${port}`, "--refresh-seconds", "1"], {
        BACKUP_DESTINATION: destination,
      });
      try {
        await running.waitForLog((l) => l.stage === "exporter" && typeof l.listen === "string");
        return await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      } finally {
        running.child.kill("SIGTERM");
        expect((await running.result).code).toBe(143);
      }
    };
    const metrics = await scrape(`file://${dest}`);
    const series = (name: string) => {
      const m = new RegExp(`^${name} (\\S+)$`, "m").exec(metrics);
      return m ? Number(m[1]) : undefined;
    };
    expect(series("edms_backup_store_objects")).toBe(json.objects);
    expect(series("edms_backup_store_stored_bytes")).toBe(json.storedBytes);
    expect(series("edms_backup_store_newest_set_bytes")).toBe(json.newest!.bytes);
    expect(json.newest!.bytes).toBeLessThan(json.storedBytes);
    expect(series("edms_backup_store_sets_source_bytes")).toBe(json.setsSourceBytes);
    expect(series("edms_backup_store_dedup_ratio")).toBeCloseTo(json.dedupRatio!, 9);
    expect(metrics).toMatch(/^edms_backup_exporter_scrape_errors_total\{source="media_store"\} 0$/m);
    const lint = spawnSync(requireTool("promtool"), ["check", "metrics"], { input: metrics, encoding: "utf8" });
    expect(`${lint.stdout}${lint.stderr}`.split("\n").filter((l) => l.includes("edms_backup_store"))).toEqual([]);

    // A destination without a store: no store series at all (not zeros).
    const tarDest = await mkdtemp(path.join(work, "dest-exporter-tar-"));
    ok(
      "tar backup",
      await runRunner(["backup", "--tier", "daily"], {
        ...env,
        BACKUP_DESTINATION: `file://${tarDest}`,
        MEDIA_FORMAT: "tar",
      }),
    );
    expect(await scrape(`file://${tarDest}`)).not.toMatch(/^edms_backup_store_/m);
  });
});
