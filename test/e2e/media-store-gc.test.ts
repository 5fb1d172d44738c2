// gc of the content store (MEDIA_FORMAT=store) as users and races meet it, on file:// (where a test
// can remove a set folder as the lifecycle rules would) and on moto with Object Lock: the segment
// list every set carries (its metadata chunks and, in them, the objects it references), deletes of exactly the unreferenced objects after the grace, dry runs,
// refusals, and interleavings of gc with backups (fault points) after which every complete set
// still verifies byte for byte.
import { createHash, randomBytes } from "node:crypto";
import { cp, mkdir, mkdtemp, readFile, readdir, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  DeleteObjectCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from "@aws-sdk/client-s3";
import { GetMetricStatisticsCommand } from "@aws-sdk/client-cloudwatch";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { newAgeKey, type AgeKeyPair } from "../helpers/age-key.js";
import { testCloudWatch } from "../helpers/notify-receiver.js";
import { runRunner, startRunner, type RunnerResult, type RunningRunner } from "../helpers/runner-cli.js";
import { refusingS3 } from "../helpers/refusing-s3.js";
import { createTestBucket, type TestBucket } from "../helpers/s3-bucket.js";
import { chunkKeysOf, referencedBy } from "../helpers/segment-lists.js";
import { freePort } from "../helpers/pg-cluster.js";

const s3Endpoint = inject("s3Endpoint");

const KEY = "media-store-gc-test-key-0123456789abcdef";
/** Sets written before segments (whole index, object list and stat cache): store-whole-file-sets.test.ts. */
const FIXTURE = path.resolve(__dirname, "../fixtures/whole-file-store-sets");

let work: string;
let age: AgeKeyPair;
let n = 0;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), "edms-gc-"));
  age = await newAgeKey(work);
});
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

function ok(step: string, r: RunnerResult): RunnerResult {
  if (r.code !== 0) throw new Error(`${step} exited ${r.code}:\n${r.stderr}\n${r.stdout.slice(-3000)}`);
  return r;
}

interface Site {
  dest: string;
  media: string;
  env: Record<string, string>;
}

/** A media folder with named contents, and a file:// destination for it (grace 0 unless told). */
async function site(files: Record<string, string | Buffer>, extra: Record<string, string> = {}): Promise<Site> {
  n += 1;
  const media = path.join(work, `media-${n}`);
  const dest = path.join(work, `dest-${n}`);
  await mkdir(media, { recursive: true });
  for (const [name, content] of Object.entries(files)) await writeFile(path.join(media, name), content);
  return {
    dest,
    media,
    env: {
      BACKUP_DESTINATION: `file://${dest}`,
      BACKUP_DATABASE: "false",
      MEDIA_DIR: media,
      MEDIA_FORMAT: "store",
      MEDIA_STORE_KEY: KEY,
      MEDIA_STORE_GC_GRACE_HOURS: "0",
      // A short gc lease, so a backup right after a gc waits 3 s, not 2 minutes.
      EDMS_GC_LEASE_MS: "1500",
      ...extra,
    },
  };
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []))
    if (e.isFile()) out.push(path.join(e.parentPath, e.name));
  return out;
}

/** Objects at the destination (files' contents and sets' metadata chunks), as keys (`store/objects/..`). */
async function objectKeys(dest: string): Promise<string[]> {
  return (await filesUnder(path.join(dest, "store", "objects")))
    .filter((f) => !path.basename(f).startsWith("."))
    .map((f) => path.relative(dest, f))
    .sort();
}

interface SetInfo {
  folder: string;
  id: string;
  manifest?: {
    media: { key: string; bytes: number; sha256: string; objectList?: { key: string; bytes: number; sha256: string } };
  };
}

async function sets(dest: string): Promise<SetInfo[]> {
  const out: SetInfo[] = [];
  for (const tier of ["daily", "weekly", "monthly", "adhoc"])
    for (const id of await readdir(path.join(dest, tier)).catch(() => [])) {
      const folder = path.join(dest, tier, id);
      const m = await readFile(path.join(folder, "manifest.json"), "utf8").catch(() => undefined);
      out.push({ folder, id, manifest: m ? JSON.parse(m) : undefined });
    }
  return out;
}

/** The keys a set references: its segment list's chunks and the keys in its object-list chunks (header checked). */
async function listedKeys(folder: string): Promise<string[]> {
  const list = await readFile(path.join(folder, "media-segments.txt"), "utf8");
  expect(list.split("\n")[0]).toBe(`edms-media-segments 1 ${path.basename(folder)}`);
  const dest = path.dirname(path.dirname(folder));
  return referencedBy(list, (key) => readFile(path.join(dest, key)));
}

const sha256 = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");

async function backup(s: Site, extra: Record<string, string> = {}): Promise<RunnerResult> {
  return ok("backup", await runRunner(["backup", "--tier", "daily"], { ...s.env, ...extra }));
}

const gc = (s: Site, args: string[] = ["--yes"], extra: Record<string, string> = {}) =>
  runRunner(["gc", ...args], { ...s.env, ...extra });

/** Every complete set verifies with --full (each object read and hashed). */
async function everySetVerifies(s: Site, extra: Record<string, string> = {}): Promise<void> {
  for (const set of await sets(s.dest))
    if (set.manifest)
      ok(`verify --full ${set.id}`, await runRunner(["verify", set.id, "--full"], { ...s.env, ...extra }));
}

/** Every object referenced by a complete set's list is in the store. */
async function referencedByComplete(dest: string): Promise<Set<string>> {
  const out = new Set<string>();
  for (const set of await sets(dest)) if (set.manifest) for (const k of await listedKeys(set.folder)) out.add(k);
  return out;
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

/**
 * Deletes `key` as a gc would: after writing its lease (gc writes one before each mark and deletes
 * only within it; gc-lease.ts), so a backup running now must check its objects again.
 */
async function deleteAsGcWould(s: Site, key: string): Promise<void> {
  const leases = path.join(s.dest, "store", "gc", "leases");
  await mkdir(leases, { recursive: true });
  await writeFile(path.join(leases, `${new Date().toISOString()}-by-hand.json`), "{}\n");
  await rm(path.join(s.dest, key));
}

/** Starts a runner paused at `point` and resolves once it is there. */
async function pausedAt(
  args: string[],
  env: Record<string, string>,
  point: string,
): Promise<{ run: RunningRunner; flag: string }> {
  const flag = path.join(work, `pause-${randomBytes(4).toString("hex")}`);
  const run = await startRunner(args, { ...env, EDMS_FAULT_POINT: `${point}:pause:${flag}` });
  let done = false;
  void run.result.then(() => (done = true));
  while (!(await exists(flag))) {
    if (done) throw new Error(`${args[0]} ended before ${point}: ${(await run.result).stderr}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return { run, flag };
}

/** The newest gc lease's LastModified at a file:// destination (ms). */
async function newestLeaseIn(dest: string): Promise<number> {
  const dir = path.join(dest, "store", "gc", "leases");
  let newest = 0;
  for (const name of await readdir(dir)) newest = Math.max(newest, (await stat(path.join(dir, name))).mtimeMs);
  return newest;
}

/**
 * Resolves once the deletes of a gc lease written at `newest` (on the store's clock) are over as a
 * backup reckons it (gc-lease.ts: the lease, its margin, 1 s), plus `slackMs`: a backup started
 * then finds that no gc can have deleted under its own listing of the store.
 */
async function leaseOver(newest: number, leaseMs: number, slackMs: number): Promise<void> {
  const end = newest + 2 * leaseMs + 1000 + slackMs;
  await new Promise((r) => setTimeout(r, Math.max(0, end - Date.now())));
}

/**
 * A gc paused (past its lease) is let go while a backup is paused right after listing the store:
 * the gc writes a new lease, marks (no list of the backup's yet) and deletes all six due objects,
 * two of which the backup reuses. Once that lease is over too (`lapse`: only the moment the
 * backup's listing began now tells the backup that a gc deleted under it), the backup, let go,
 * must fail cleanly.
 */
async function gcRenewsUnderListing(
  env: Record<string, string>,
  gcRun: { run: RunningRunner; flag: string },
  lapse: () => Promise<void>,
) {
  const b = await pausedAt(["backup", "--tier", "daily"], env, "backup.store-listed");
  await rm(gcRun.flag);
  expect(ok("gc resumed", await gcRun.run.result).stdout).toContain("deleted 6 content objects");
  await lapse();
  await rm(b.flag);
  const r = await b.run.result;
  expect(r.code, r.stderr).toBe(1);
  expect(r.stderr).toContain("no longer in the store");
  expect(r.stderr).toContain("run the backup again");
}

describe("the segment list", () => {
  it("names exactly the set's chunks and, in them, its distinct objects, covered by the manifest; plain when encrypted", async () => {
    for (const encrypted of [false, true]) {
      const s = await site(
        { "a.txt": "alpha", "b.txt": "beta", "same.txt": "alpha", "c.bin": randomBytes(3000) },
        encrypted ? { ENCRYPTION_RECIPIENTS: age.recipient } : {},
      );
      await backup(s);
      const [set] = await sets(s.dest);
      const entry = set!.manifest!.media;
      expect(entry.key).toBe("media-segments.txt");
      expect(entry.objectList).toBeUndefined();
      const body = await readFile(path.join(set!.folder, "media-segments.txt"));
      expect(entry.bytes).toBe(body.length);
      expect(entry.sha256).toBe(sha256(body));
      const keys = await listedKeys(set!.folder);
      // Three distinct contents and one segment's three chunks; the store holds exactly them.
      expect(keys).toEqual(await objectKeys(s.dest));
      expect(keys).toHaveLength(6);
      // Only the files' objects and the index chunk are age-encrypted.
      expect(keys.filter((k) => k.endsWith(".age"))).toHaveLength(encrypted ? 4 : 0);
    }
  });

  it("a reused object gone before the manifest fails the backup, names it and writes no manifest", async () => {
    const s = await site({ "keep.txt": "kept", "doomed.txt": "doomed content" });
    await backup(s);
    const { run, flag } = await pausedAt(["backup", "--tier", "daily"], s.env, "backup.after-object-list");
    const running = (await sets(s.dest)).find((x) => !x.manifest)!;
    const doomed = (await listedKeys(running.folder)).find((k) => k)!;
    await deleteAsGcWould(s, doomed);
    await rm(flag);
    const r = await run.result;
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(doomed);
    expect(r.stderr).toContain("run the backup again");
    expect(await exists(path.join(running.folder, "manifest.json"))).toBe(false);
    // The next backup stores it again and is whole.
    await backup(s);
    expect(await objectKeys(s.dest)).toContain(doomed);
  });

  it("an object deleted by hand (no gc, no lease) during a backup: its listing stands, and verify names the object", async () => {
    // The check before the manifest lists the store again only when a gc's deletes may reach past
    // the backup's first listing (gc-lease.ts); a delete outside gc is verify's to find.
    const s = await site({ "keep.txt": "kept", "doomed.txt": "doomed content" });
    await backup(s);
    const { run, flag } = await pausedAt(["backup", "--tier", "daily"], s.env, "backup.after-object-list");
    const running = (await sets(s.dest)).find((x) => !x.manifest)!;
    const doomed = (await listedKeys(running.folder)).find((k) => k)!;
    await rm(path.join(s.dest, doomed));
    await rm(flag);
    ok("the backup", await run.result);
    const v = await runRunner(["verify", running.id], s.env);
    expect(v.code).toBe(1);
    expect(v.stderr).toContain(doomed);
  });

  it("a backup that lost a reused chunk that way leaves a dead set gc still runs past", async () => {
    // gc deleted a due object-list chunk under a backup that reused it (the race gc-lease.ts
    // resolves by failing the backup); the dead set's folder keeps its segment list until it
    // expires, and a changed tree never stores that chunk again.
    const s = await site({ "keep.txt": "kept", "old.txt": "before" });
    await backup(s);
    const [expired] = await sets(s.dest);
    await rm(expired!.folder, { recursive: true });
    const { run, flag } = await pausedAt(["backup", "--tier", "daily"], s.env, "backup.after-object-list");
    const dead = (await sets(s.dest)).find((x) => !x.manifest)!;
    const list = await readFile(path.join(dead.folder, "media-segments.txt"), "utf8");
    const objectsChunk = list.split("\n")[1]!.split(" ")[6]!;
    await deleteAsGcWould(s, objectsChunk);
    await rm(flag);
    expect((await run.result).code).toBe(1);
    await writeFile(path.join(s.media, "old.txt"), "after");
    await backup(s);
    expect(await objectKeys(s.dest)).not.toContain(objectsChunk);
    const r = ok("gc after the dead set", await gc(s));
    expect(r.stderr).toContain(objectsChunk);
    await everySetVerifies(s);
    ok("gc again", await gc(s));
    // Kept: what complete sets use, and the dead set's other chunks (until its folder expires).
    const kept = new Set([...(await referencedByComplete(s.dest)), ...chunkKeysOf(list)]);
    kept.delete(objectsChunk);
    expect(await objectKeys(s.dest)).toEqual([...kept].sort());
    await everySetVerifies(s);
  });
});

describe("gc on file://", () => {
  it("removes the unfinished write a SIGKILLed backup left, once older than the grace (at least an hour), and nothing else", async () => {
    const s = await site({ "a.txt": "alpha" });
    await backup(s);
    const before = await objectKeys(s.dest);
    // A backup killed while it writes a large new object leaves its hidden partial file.
    await writeFile(path.join(s.media, "large.bin"), randomBytes(96 * 1024 * 1024));
    const run = await startRunner(["backup", "--tier", "daily"], s.env);
    const partials = async () =>
      (await filesUnder(path.join(s.dest, "store", "objects"))).filter((f) => path.basename(f).includes(".partial-"));
    let left: string[] = [];
    while (!(left = await partials()).length) await new Promise((r) => setTimeout(r, 5));
    run.child.kill("SIGKILL");
    await run.result;
    expect(left).toHaveLength(1);
    const [partial] = left;
    // A write in progress (its mtime moves as it writes) is never removed: gc's grace is 0 here,
    // and the partial's age is what counts, at least an hour.
    expect(ok("gc", await gc(s)).stdout).not.toContain("unfinished");
    expect(await exists(partial!)).toBe(true);
    const old = new Date(Date.now() - 2 * 3_600_000);
    await utimes(partial!, old, old);
    const dry = ok("gc --dry-run", await gc(s, ["--dry-run"]));
    expect(dry.stdout).toMatch(/would remove 1 unfinished writes left by killed runs/);
    expect(await exists(partial!)).toBe(true);
    expect(ok("gc", await gc(s)).stdout).toMatch(/removed 1 unfinished writes left by killed runs/);
    expect(await exists(partial!)).toBe(false);
    expect(await objectKeys(s.dest)).toEqual(before);
    await everySetVerifies(s);
  });

  /** Two sets; the first's folder removed (as expiry would): `gone` is referenced by nothing. */
  async function withOneUnreferenced(extra: Record<string, string> = {}) {
    const s = await site({ "a.txt": "alpha", "b.txt": "beta", "gone.txt": "only in the first set" }, extra);
    await backup(s);
    const [first] = await sets(s.dest);
    const before = await objectKeys(s.dest);
    await rm(path.join(s.media, "gone.txt"));
    await writeFile(path.join(s.media, "new.txt"), "only in the second set");
    await backup(s);
    await rm(first!.folder, { recursive: true });
    const referenced = await referencedByComplete(s.dest);
    // The removed file's object and the first set's three chunks (every part of its one segment changed).
    const gone = before.filter((k) => !referenced.has(k));
    expect(gone).toHaveLength(4);
    return { s, gone, referenced };
  }

  it("deletes exactly the unreferenced object at the run after the one that first saw it, nothing referenced", async () => {
    const { s, gone, referenced } = await withOneUnreferenced();
    const first = ok("gc 1", await gc(s));
    expect(first.stdout).toContain("deleted 0 content objects");
    expect(await objectKeys(s.dest)).toEqual(expect.arrayContaining(gone));

    const dry = ok("gc --dry-run", await gc(s, ["--dry-run"]));
    for (const k of gone) expect(dry.stdout).toContain(k);
    expect(dry.stdout).toContain("dry run: nothing was changed");
    expect(await objectKeys(s.dest)).toEqual(expect.arrayContaining(gone));

    let goneBytes = 0;
    for (const k of gone) goneBytes += (await stat(path.join(s.dest, k))).size;
    ok("gc 2", await gc(s));
    expect(await objectKeys(s.dest)).toEqual([...referenced].sort());
    await everySetVerifies(s);
    const status = await runRunner(["status"], { ...s.env, STATUS_TIERS: "daily" });
    expect(status.stdout).toMatch(/last gc .*deleted 4 objects/);
    // The exporter's gc series: the deleted object's bytes, when the record says gc finished.
    const [record] = (await filesUnder(path.join(s.dest, "store", "gc", "runs"))).sort().reverse();
    const finishedAt = JSON.parse(await readFile(record!, "utf8")).finishedAt as string;
    const port = await freePort();
    const exporter = await startRunner(["exporter", "--listen", `127.0.0.1:${port}`], {
      BACKUP_DESTINATION: s.env.BACKUP_DESTINATION!,
    });
    try {
      await exporter.waitForLog((l) => l.stage === "exporter" && typeof l.listen === "string");
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const series = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(metrics)?.[1]);
      expect(series("edms_backup_store_gc_deleted_bytes")).toBe(goneBytes);
      expect(series("edms_backup_store_gc_last_timestamp_seconds")).toBe(Date.parse(finishedAt) / 1000);
      expect(series("edms_backup_store_gc_candidates")).toBe(0);
    } finally {
      exporter.child.kill("SIGTERM");
      await exporter.result;
    }
  });

  it("keeps unreferenced objects for the grace, and refuses without --yes and no terminal (exit 2)", async () => {
    const { s, gone } = await withOneUnreferenced({ MEDIA_STORE_GC_GRACE_HOURS: "48" });
    ok("gc 1", await gc(s));
    ok("gc 2", await gc(s));
    expect(await objectKeys(s.dest)).toEqual(expect.arrayContaining(gone));
    const refused = await gc(s, [], { MEDIA_STORE_GC_GRACE_HOURS: "0" });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("--yes");
    expect(await objectKeys(s.dest)).toEqual(expect.arrayContaining(gone));
  });

  it("reads an older set's plain index; an older encrypted set stops every delete unless gc has the identity", async () => {
    for (const variant of ["plain", "age"] as const) {
      // A set as a runner before object lists wrote it: the whole-file fixture's, without its list.
      n += 1;
      const dest = path.join(work, `dest-${n}`);
      await cp(path.join(FIXTURE, variant), dest, { recursive: true });
      const [old] = await sets(dest);
      const manifestFile = path.join(old!.folder, "manifest.json");
      const manifest = JSON.parse(await readFile(manifestFile, "utf8"));
      delete manifest.media.objectList;
      await writeFile(manifestFile, JSON.stringify(manifest));
      await rm(path.join(old!.folder, "media-objects.txt"));
      const gone = `store/objects/ff/${"f".repeat(64)}`;
      await mkdir(path.join(dest, "store", "objects", "ff"), { recursive: true });
      await writeFile(path.join(dest, gone), "stray");
      const s: Site = {
        dest,
        media: dest,
        env: { BACKUP_DESTINATION: `file://${dest}`, BACKUP_DATABASE: "false", MEDIA_STORE_GC_GRACE_HOURS: "0" },
      };
      const encrypted = variant === "age";
      const withId = { AGE_IDENTITY_FILE: path.join(FIXTURE, "age.key") };
      ok("gc 1", await gc(s, ["--yes"], encrypted ? withId : {}));
      if (encrypted) {
        const refused = await gc(s);
        expect(refused.code).toBe(1);
        expect(refused.stderr).toContain(path.relative(dest, old!.folder));
        expect(refused.stderr).toContain("AGE_IDENTITY_FILE");
        expect(await objectKeys(dest)).toContain(gone);
      }
      ok("gc 2", await gc(s, ["--yes"], encrypted ? withId : {}));
      expect(await objectKeys(dest)).not.toContain(gone);
      expect(await objectKeys(dest)).toHaveLength(5);
      await everySetVerifies(s, encrypted ? withId : {});
    }
  });

  it("prune runs the same gc after deleting sets", async () => {
    const { s, gone } = await withOneUnreferenced();
    ok("prune 1", await runRunner(["prune"], s.env));
    expect(await objectKeys(s.dest)).toEqual(expect.arrayContaining(gone));
    const second = ok("prune 2", await runRunner(["prune"], s.env));
    expect(second.stdout).toContain("gc: deleted 4 content objects");
    for (const k of gone) expect(await objectKeys(s.dest)).not.toContain(k);
    await everySetVerifies(s);
  });
});

describe("gc and backups interleaved (no complete set ever points at a missing object)", () => {
  /** `x.txt`'s object is a due candidate (seen unreferenced by a finished gc), about to be reused. */
  async function dueObject(extra: Record<string, string> = {}) {
    const s = await site({ "x.txt": "reused content", "other.txt": "other" }, extra);
    await backup(s);
    const [first] = await sets(s.dest);
    const x = (await listedKeys(first!.folder)).sort();
    await rm(first!.folder, { recursive: true });
    ok("gc records candidates", await gc(s));
    return { s, objects: x };
  }

  it("a backup paused between its object list and its manifest keeps its reused objects through gc", async () => {
    for (const point of ["backup.after-object-list", "backup.objects-confirmed"]) {
      const { s, objects } = await dueObject();
      const { run, flag } = await pausedAt(["backup", "--tier", "daily"], s.env, point);
      const r = ok("gc while the backup is paused", await gc(s));
      expect(r.stdout).toContain("deleted 0 content objects");
      expect(await objectKeys(s.dest)).toEqual(objects);
      await rm(flag);
      ok("the paused backup", await run.result);
      await everySetVerifies(s);
    }
  });

  it("a gc that marked before the backup's list cannot delete under it: the backup waits out the lease", async () => {
    const lease = { EDMS_GC_LEASE_MS: "8000" };
    const { s, objects } = await dueObject(lease);
    // gc has marked (the backup's list does not exist yet) and is about to delete.
    const paused = await pausedAt(["gc", "--yes"], s.env, "gc.before-delete");
    const b = await startRunner(["backup", "--tier", "daily"], s.env);
    // The backup has stored its object list (it reuses the objects gc is about to delete): go, gc.
    for (;;) {
      const listed = await Promise.all(
        (await sets(s.dest)).map((x) => exists(path.join(x.folder, "media-segments.txt"))),
      );
      if (listed.some(Boolean)) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    await rm(paused.flag);
    const g = ok("gc", await paused.run.result);
    const r = await b.result;
    expect(g.stdout).toContain(`deleted ${objects.length} content objects`);
    // What must hold whatever the order: no complete set points at a missing object.
    const stored = await objectKeys(s.dest);
    for (const k of await referencedByComplete(s.dest)) expect(stored).toContain(k);
    await everySetVerifies(s);
    // And how: the backup waited out gc's lease, saw the deletes and wrote no manifest.
    expect(r.logs.some((l) => l.stage === "gc-lease")).toBe(true);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain("run the backup again");
    for (const set of await sets(s.dest)) expect(set.manifest).toBeUndefined();
    ok("the next backup", await runRunner(["backup", "--tier", "daily"], s.env));
    await everySetVerifies(s);
  });

  /**
   * x, y and z backed up, that set expired, a gc that recorded its six objects as candidates; then
   * z.txt removed and a second gc paused at `point` (it has marked: no set names anything) until
   * its lease's deletes are over. A backup now reuses x's and y's objects, not z's nor the old chunks.
   */
  async function staleGc(point: string, extra: Record<string, string> = {}) {
    const s = await site(
      { "x.txt": "reused x", "y.txt": "reused y", "z.txt": "only in the expired set" },
      { EDMS_GC_LEASE_MS: "1000", ...extra },
    );
    await backup(s);
    const [first] = await sets(s.dest);
    await rm(first!.folder, { recursive: true });
    ok("gc records candidates", await gc(s));
    await rm(path.join(s.media, "z.txt"));
    const paused = await pausedAt(["gc", "--yes"], s.env, point);
    const lapse = async () => leaseOver(await newestLeaseIn(s.dest), 1000, 500);
    await lapse();
    return { s, paused, lapse };
  }

  it("a gc paused past its lease: a backup meanwhile trusts its own listing; the gc, resumed, renews its lease and spares the new set", async () => {
    // The backup needs no second listing (every lease it sees was over before it listed the store):
    // what keeps its objects is gc renewing its lease and marking again before any late delete.
    const encrypted = { ENCRYPTION_RECIPIENTS: age.recipient, AGE_IDENTITY_FILE: age.file };
    for (const [point, extra] of [
      ["gc.before-delete", {}],
      ["gc.deleted-one", encrypted],
    ] as const) {
      const { s, paused } = await staleGc(point, extra);
      const b = await backup(s);
      expect(b.logs.some((l) => l.stage === "gc-lease")).toBe(false);
      await rm(paused.flag);
      ok(`gc resumed at ${point}`, await paused.run.result);
      // z's object and the expired set's chunks are gone, nothing the complete set references.
      const left = await objectKeys(s.dest);
      expect(left).toEqual([...(await referencedByComplete(s.dest))].sort());
      expect(left.some((k) => k.endsWith(".age"))).toBe(extra === encrypted);
      await everySetVerifies(s);
    }
  });

  it("a gc that renews its lease after a backup listed the store: the backup's listing no longer holds, and it fails cleanly", async () => {
    const { s, paused, lapse } = await staleGc("gc.before-delete");
    // gc's first lease was over before the backup listed the store; the one it writes on resuming is not.
    await gcRenewsUnderListing(s.env, paused, lapse);
    for (const set of await sets(s.dest)) expect(set.manifest).toBeUndefined();
    await backup(s);
    await everySetVerifies(s);
  });

  it("a gc that deletes while a backup is still listing the store: the backup judges from when its listing began, and fails cleanly", async () => {
    // Nothing changed since the expired set: the backup reuses every object, and all five are due.
    // It stops after the first batch of its listing (one content folder, in its catalog now).
    const { s, objects } = await dueObject({ EDMS_GC_LEASE_MS: "1000" });
    const b = await pausedAt(["backup", "--tier", "daily"], s.env, "store.first-batch-listed");
    expect(ok("gc", await gc(s)).stdout).toContain(`deleted ${objects.length} content objects`);
    // gc's lease is over before the listing ends: only when it began tells that gc deleted under it.
    await leaseOver(await newestLeaseIn(s.dest), 1000, 500);
    let done = false;
    void b.run.result.then(() => (done = true));
    // Let it go (again when the listing that names what is gone stops at the same point).
    while (!done) {
      await rm(b.flag, { force: true });
      await new Promise((r) => setTimeout(r, 20));
    }
    const r = await b.run.result;
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain("no longer in the store");
    for (const set of await sets(s.dest)) expect(set.manifest).toBeUndefined();
    await backup(s);
    await everySetVerifies(s);
  });

  it("SIGKILL of gc at each step loses nothing, and a later gc finishes the job", async () => {
    for (const point of ["gc.marked", "gc.before-delete", "gc.deleted-one", "gc.before-record"]) {
      const s = await site({ "a.txt": "a", "b.txt": "b", "c.txt": "c", "d.txt": "d" });
      await backup(s);
      const [first] = await sets(s.dest);
      await rm(path.join(s.media, "c.txt"));
      await rm(path.join(s.media, "d.txt"));
      await backup(s);
      await rm(first!.folder, { recursive: true });
      ok("gc 1", await gc(s));
      const { run } = await pausedAt(["gc", "--yes"], s.env, point);
      run.child.kill("SIGKILL");
      expect((await run.result).signal).toBe("SIGKILL");
      await everySetVerifies(s);
      ok(`gc after a kill at ${point}`, await gc(s));
      expect(await objectKeys(s.dest)).toEqual([...(await referencedByComplete(s.dest))].sort());
      await everySetVerifies(s);
    }
  });
});

/** The runner's environment for a store-format backup of `media` to `bucket` (grace 0), with `extra`. */
function s3Site(bucket: TestBucket, media: string, extra: Record<string, string>): Record<string, string> {
  return {
    ...bucket.env(),
    BACKUP_DATABASE: "false",
    MEDIA_DIR: media,
    MEDIA_FORMAT: "store",
    MEDIA_STORE_KEY: KEY,
    MEDIA_STORE_GC_GRACE_HOURS: "0",
    ...extra,
  };
}

/** Removes the daily sets' objects, as their expiry would (they carry no retention here). */
async function expireDailySets(bucket: TestBucket): Promise<void> {
  for (const Key of (await bucket.keys()).filter((k) => k.startsWith("edms/daily/")))
    await bucket.client.send(new DeleteObjectCommand({ Bucket: bucket.name, Key }));
}

describe("gc on S3 (moto) with Object Lock", () => {
  it("never sends a delete to a locked object, reports it, and leaves a delete marker (the undo) on what it frees", async () => {
    const bucket = await createTestBucket(s3Endpoint, { objectLock: true });
    const media = await mkdtemp(path.join(work, "lock-media-"));
    await writeFile(path.join(media, "doc.pdf"), randomBytes(5000));
    const ns = `EdmsTest/${randomBytes(4).toString("hex")}`;
    const env = s3Site(bucket, media, {
      EDMS_GC_LEASE_MS: "1500",
      OBJECT_LOCK_MODE: "GOVERNANCE",
      OBJECT_LOCK_DAYS: "1",
      APP_NAME: "edms",
    });
    ok("backup", await runRunner(["backup", "--tier", "daily"], env));
    // Three unreferenced objects (a dead run's, say): one plain, one retained, one on legal hold.
    const stray = (c: string) => `edms/store/objects/${c}${c}/${c}${c}${"0".repeat(62)}`;
    const put = (Key: string, lock: Record<string, unknown>) =>
      bucket.client.send(
        new PutObjectCommand({ Bucket: bucket.name, Key, Body: "stray", ChecksumAlgorithm: "CRC32", ...lock }),
      );
    await put(stray("a"), {});
    await put(stray("b"), {
      ObjectLockMode: "GOVERNANCE",
      ObjectLockRetainUntilDate: new Date(Date.now() + 86_400_000),
    });
    await put(stray("c"), { ObjectLockLegalHoldStatus: "ON" });
    const cw = { CLOUDWATCH_NAMESPACE: ns, AWS_ENDPOINT_URL_CLOUDWATCH: s3Endpoint };
    ok("gc 1", await runRunner(["gc", "--yes"], { ...env, ...cw }));
    const second = ok("gc 2", await runRunner(["gc", "--yes", "--json"], { ...env, ...cw }));
    // At once (a longer lease on the backup's side than it takes to start: it must wait).
    const after = ok(
      "backup after gc",
      await runRunner(["backup", "--tier", "daily"], { ...env, EDMS_GC_LEASE_MS: "4000" }),
    );
    const report = JSON.parse(second.stdout);
    expect(report.deleted.objects).toBe(1);
    expect(report.locked.map((l: { key: string }) => l.key).sort()).toEqual([
      stray("b").slice("edms/".length),
      stray("c").slice("edms/".length),
    ]);
    const versions = async (Key: string) =>
      bucket.client.send(new ListObjectVersionsCommand({ Bucket: bucket.name, Prefix: Key }));
    // The freed object: a delete marker, its bytes kept as a noncurrent version.
    const freed = await versions(stray("a"));
    expect(freed.DeleteMarkers).toHaveLength(1);
    expect(freed.Versions).toHaveLength(1);
    expect(freed.Versions![0]!.IsLatest).toBe(false);
    // The locked ones were never sent a delete (on S3 that would have left a marker).
    for (const key of [stray("b"), stray("c")]) {
      expect((await versions(key)).DeleteMarkers ?? []).toHaveLength(0);
      await bucket.client.send(new HeadObjectCommand({ Bucket: bucket.name, Key: key }));
    }
    // Every set still whole; status tells the last gc.
    const [setId] = (await bucket.keys()).filter((k) => k.endsWith("/manifest.json")).map((k) => k.split("/")[2]!);
    ok("verify --full", await runRunner(["verify", setId!, "--full"], env));
    const status = await runRunner(["status"], { ...env, STATUS_TIERS: "daily" });
    expect(status.stdout).toMatch(/last gc .*deleted 1 objects.*2 left under Object Lock/);
    // GcSucceeded 1 from each run.
    const stats = await testCloudWatch(s3Endpoint).send(
      new GetMetricStatisticsCommand({
        Namespace: ns,
        MetricName: "GcSucceeded",
        Dimensions: [{ Name: "App", Value: "edms" }],
        StartTime: new Date(Date.now() - 3_600_000),
        EndTime: new Date(Date.now() + 3_600_000),
        Period: 3600,
        Statistics: ["Minimum", "SampleCount"],
      }),
    );
    expect(stats.Datapoints?.[0]).toMatchObject({ Minimum: 1, SampleCount: 2 });
    // The backup right after gc waited out its lease (on the store's clock) and completed whole.
    expect(after.logs.some((l) => l.stage === "gc-lease")).toBe(true);
    const setIds = (await bucket.keys()).filter((k) => k.endsWith("/manifest.json")).map((k) => k.split("/")[2]!);
    expect(setIds).toHaveLength(2);
    for (const id of setIds) ok(`verify --full ${id}`, await runRunner(["verify", id, "--full"], env));
  });
});

/**
 * Every complete set in `bucket` (prefix edms/) has every object its segment list names and verifies
 * byte for byte; returns their manifests' keys and the objects they reference.
 */
async function completeSetsWhole(
  bucket: TestBucket,
  env: Record<string, string>,
): Promise<{ manifests: string[]; referenced: Set<string> }> {
  const keys = await bucket.keys();
  const manifests = keys.filter((k) => k.endsWith("/manifest.json"));
  const referenced = new Set<string>();
  for (const manifest of manifests) {
    const folder = manifest.slice(0, -"manifest.json".length);
    const list = (await bucket.get(`${folder}media-segments.txt`)).toString("utf8");
    for (const k of await referencedBy(list, (key) => bucket.get(`edms/${key}`))) {
      expect(keys).toContain(`edms/${k}`);
      referenced.add(`edms/${k}`);
    }
    ok("verify --full", await runRunner(["verify", folder.split("/")[2]!, "--full"], env));
  }
  return { manifests, referenced };
}

describe("gc and a backup interleaved on S3 (moto, Object Lock bucket, LastModified to the second)", () => {
  it("a gc paused between its mark and its deletes cannot leave a complete set without its objects", async () => {
    const bucket = await createTestBucket(s3Endpoint, { objectLock: true });
    const media = await mkdtemp(path.join(work, "race-media-"));
    await writeFile(path.join(media, "x.txt"), "reused content");
    await writeFile(path.join(media, "y.txt"), randomBytes(3000));
    const env = s3Site(bucket, media, { EDMS_GC_LEASE_MS: "8000" });
    const keys = () => bucket.keys();
    ok("backup 1", await runRunner(["backup", "--tier", "daily"], env));
    // The set expires (its objects carry no retention here): its content objects are unreferenced.
    await expireDailySets(bucket);
    // Two files' objects and one segment's three chunks.
    const objects = (await keys()).filter((k) => k.startsWith("edms/store/objects/"));
    expect(objects).toHaveLength(5);
    ok("gc 1 records the candidates", await runRunner(["gc", "--yes"], env));
    const paused = await pausedAt(["gc", "--yes"], env, "gc.before-delete");
    const b = await startRunner(["backup", "--tier", "daily"], env);
    while (!(await keys()).some((k) => k.endsWith("/media-segments.txt"))) await new Promise((r) => setTimeout(r, 20));
    await rm(paused.flag);
    const g = ok("gc 2", await paused.run.result);
    const r = await b.result;
    expect(g.stdout).toContain("deleted 5 content objects");
    // Whatever the order: every complete set's objects are there, and it verifies byte for byte.
    const { manifests } = await completeSetsWhole(bucket, env);
    // How: the backup waited out the lease, found its objects gone and wrote no manifest.
    expect(r.logs.some((l) => l.stage === "gc-lease")).toBe(true);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain("run the backup again");
    expect(manifests).toEqual([]);
    ok("the next backup", await runRunner(["backup", "--tier", "daily"], env));
  });

  /**
   * As staleGc on file://: x, y and z backed up, that set expired, a gc that recorded its six
   * objects, z.txt removed, and a second gc paused between its mark and its deletes until its
   * lease's deletes are over; the runner reaches moto through a proxy that counts listings.
   */
  async function staleGcOnS3() {
    const bucket = await createTestBucket(s3Endpoint, { objectLock: true });
    const proxy = await refusingS3(s3Endpoint, []);
    const media = await mkdtemp(path.join(work, "stale-media-"));
    await writeFile(path.join(media, "x.txt"), "reused x");
    await writeFile(path.join(media, "y.txt"), randomBytes(3000));
    await writeFile(path.join(media, "z.txt"), "only in the expired set");
    const env = s3Site(bucket, media, { S3_ENDPOINT: proxy.endpoint, EDMS_GC_LEASE_MS: "1000" });
    ok("backup 1", await runRunner(["backup", "--tier", "daily"], env));
    await expireDailySets(bucket);
    ok("gc 1 records the candidates", await runRunner(["gc", "--yes"], env));
    await rm(path.join(media, "z.txt"));
    const paused = await pausedAt(["gc", "--yes"], env, "gc.before-delete");
    const lapse = async () => {
      const leases = await bucket.client.send(
        new ListObjectsV2Command({ Bucket: bucket.name, Prefix: "edms/store/gc/leases/" }),
      );
      const newest = Math.max(...(leases.Contents ?? []).map((o) => o.LastModified!.getTime()));
      // +1 s more: the backup reckons when its listing began from its list's LastModified, to the second too.
      await leaseOver(newest, 1000, 1300);
    };
    await lapse();
    return { bucket, proxy, env, paused, lapse };
  }

  it("a gc paused past its lease: a backup lists the store once; the gc, resumed, renews its lease and spares the new set", async () => {
    const { bucket, proxy, env, paused } = await staleGcOnS3();
    try {
      proxy.listings.length = 0;
      const b = ok("backup 2", await runRunner(["backup", "--tier", "daily"], env));
      // Every lease it saw was over before it listed the store: that listing is its proof.
      expect(proxy.listings.filter((p) => p === "edms/store/objects/")).toHaveLength(1);
      expect(b.logs.some((l) => l.stage === "gc-lease")).toBe(false);
      await rm(paused.flag);
      ok("gc resumed", await paused.run.result);
      const { manifests, referenced } = await completeSetsWhole(bucket, env);
      expect(manifests).toHaveLength(1);
      // z's object and the expired set's chunks went (delete markers), nothing the set references.
      expect((await bucket.keys()).filter((k) => k.startsWith("edms/store/objects/"))).toEqual([...referenced].sort());
    } finally {
      await proxy.close();
    }
  });

  it("a gc that renews its lease after a backup listed the store: the backup lists again and fails cleanly", async () => {
    const { bucket, proxy, env, paused, lapse } = await staleGcOnS3();
    try {
      await gcRenewsUnderListing(env, paused, lapse);
      expect((await completeSetsWhole(bucket, env)).manifests).toEqual([]);
      ok("the next backup", await runRunner(["backup", "--tier", "daily"], env));
      expect((await completeSetsWhole(bucket, env)).manifests).toHaveLength(1);
    } finally {
      await proxy.close();
    }
  });
});
