// `restore <id> --media-only --path P` on a store-format set, as the operator who deleted one
// folder at 3 a.m. meets it, and as a careless or hostile one does: only the asked-for entries
// (and the folders above them, with their modes and mtimes) land in a new or empty folder, byte
// for byte, for generated wild trees; every refusal exits 2 and writes nothing; objects come
// MEDIA_STORE_TRANSFERS at a time. On file:// and on moto, with and without age.
import { randomBytes } from "node:crypto";
import { link, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { quoteName } from "../../runner/src/archive/entry-name.js";
import { newAgeKey, type AgeKeyPair } from "../helpers/age-key.js";
import { materializeTree, mediaTreeArb, snapshotTree } from "../helpers/media-trees.js";
import { runRunner, type RunnerResult } from "../helpers/runner-cli.js";
import { createTestBucket } from "../helpers/s3-bucket.js";
import { startForwarder } from "../helpers/tcp-forwarder.js";
import { fileStoreEnv } from "../helpers/store-env.js";

const s3Endpoint = inject("s3Endpoint");
const KEY = "media-store-path-test-key-0123456789abcdef";
const SLASH = Buffer.from("/");
const join = (parts: Buffer[]) => Buffer.concat(parts.flatMap((p, i) => (i ? [SLASH, p] : [p])));

let work: string;
let age: AgeKeyPair;
let n = 0;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), "edms-store-path-"));
  age = await newAgeKey(work);
});
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

function ok(step: string, r: RunnerResult): RunnerResult {
  if (r.code !== 0) throw new Error(`${step} exited ${r.code}:\n${r.stderr}\n${r.stdout.slice(-3000)}`);
  return r;
}

const fileEnv = (dest: string, media: string, extra: Record<string, string> = {}) =>
  fileStoreEnv(dest, media, KEY, extra);

/** Every entry's components below `dir` (not the root), walked with names as bytes. */
async function allEntries(dir: string): Promise<Buffer[][]> {
  const out: Buffer[][] = [];
  const walk = async (at: Buffer[]) => {
    const names = await readdir(at.length ? join([Buffer.from(dir), ...at]) : dir, {
      encoding: "buffer",
      withFileTypes: true,
    });
    for (const e of names) {
      const here = [...at, e.name as unknown as Buffer];
      out.push(here);
      if (e.isDirectory()) await walk(here);
    }
  };
  await walk([]);
  return out.sort((a, b) => Buffer.compare(join(a), join(b)));
}

/** The entries `--path` of these names brings back: each, everything below it, the folders above it. */
function kept(wanted: Buffer[][]) {
  return (at: Buffer[]) =>
    wanted.some((w) => {
      const common = Math.min(w.length, at.length);
      return w.slice(0, common).every((p, i) => p.equals(at[i]!));
    });
}

async function nothingWritten(parent: string, target: string, existed: boolean): Promise<void> {
  const left = (await readdir(parent)).filter((f) => f !== path.basename(target) || !existed);
  expect(left.filter((f) => f.startsWith(path.basename(target)))).toEqual([]);
  if (existed) expect(await readdir(target)).toEqual([]);
}

describe("restore --path: just the asked-for entries, byte for byte", () => {
  it("generated wild trees: one or two picked entries (any bytes, given as `files` prints them) come back exactly, with the folders above them and nothing else", async () => {
    await fc.assert(
      fc.asyncProperty(
        mediaTreeArb,
        fc.array(fc.nat(), { minLength: 1, maxLength: 2 }),
        fc.boolean(),
        async (tree, picks, encrypted) => {
          n += 1;
          const base = path.join(work, `prop-${n}`);
          const media = path.join(base, "media");
          await mkdir(media, { recursive: true });
          try {
            await materializeTree(media, tree);
            const entries = await allEntries(media);
            fc.pre(entries.length > 0);
            const env = fileEnv(
              path.join(base, "dest"),
              media,
              encrypted ? { ENCRYPTION_RECIPIENTS: age.recipient, AGE_IDENTITY_FILE: age.file } : {},
            );
            ok("backup", await runRunner(["backup", "--tier", "daily"], env));
            const wanted = [...new Set(picks.map((p) => p % entries.length))].map((i) => entries[i]!);
            const target = path.join(base, "restored", "new");
            const args = wanted.flatMap((w) => ["--path", quoteName(join(w))]);
            ok(
              "restore --path",
              await runRunner(["restore", "latest", "--media-only", "--media-dir", target, ...args, "--yes"], env),
            );
            expect(await snapshotTree(target, kept(wanted))).toEqual(await snapshotTree(media, kept(wanted)));
            // Nothing outside the selection was written: the whole restored tree is the filtered one.
            expect(await snapshotTree(target)).toEqual(await snapshotTree(target, kept(wanted)));
          } finally {
            await rm(base, { recursive: true, force: true });
          }
        },
      ),
      { numRuns: Number(process.env.PROPERTY_RUNS ?? 6) },
    );
  }, 300_000);

  it("a hard link whose first name is outside the selection gets its content; its group stays one file", async () => {
    n += 1;
    const media = path.join(work, `links-${n}`);
    await mkdir(path.join(media, "a"), { recursive: true });
    await mkdir(path.join(media, "b"));
    const content = randomBytes(5000);
    await writeFile(path.join(media, "a", "first.pdf"), content);
    await link(path.join(media, "a", "first.pdf"), path.join(media, "b", "second.pdf"));
    await link(path.join(media, "a", "first.pdf"), path.join(media, "b", "third.pdf"));
    await writeFile(path.join(media, "b", "other.txt"), "other");
    for (const encrypted of [false, true]) {
      const env = fileEnv(
        path.join(work, `links-dest-${n}-${encrypted}`),
        media,
        encrypted ? { ENCRYPTION_RECIPIENTS: age.recipient, AGE_IDENTITY_FILE: age.file } : {},
      );
      ok("backup", await runRunner(["backup", "--tier", "daily"], env));
      const target = path.join(work, `links-restored-${n}-${encrypted}`);
      const r = ok(
        "restore --path b",
        await runRunner(["restore", "latest", "--media-only", "--media-dir", target, "--path", "b/", "--yes"], env),
      );
      expect(r.stderr + r.stdout).not.toMatch(/error/i);
      const b = (p: string) => path.join(target, "b", p);
      expect(await readFile(b("second.pdf"))).toEqual(content);
      expect(await readFile(b("third.pdf"))).toEqual(content);
      expect(await readdir(target)).toEqual(["b"]);
      const wanted = [[Buffer.from("b")]];
      expect(await snapshotTree(target)).toEqual(await snapshotTree(media, kept(wanted)));
    }
  });
});

describe("restore --path: refusals exit 2 and write nothing", () => {
  let env: Record<string, string>;
  let media: string;
  let parent: string;
  let tarEnv: Record<string, string>;

  beforeAll(async () => {
    n += 1;
    media = path.join(work, `refuse-media-${n}`);
    await mkdir(path.join(media, "doc"), { recursive: true });
    await mkdir(path.join(media, "docs2"));
    await writeFile(path.join(media, "docs2", "a.pdf"), "a");
    await writeFile(path.join(media, "doc", "b.pdf"), "b");
    env = fileEnv(path.join(work, `refuse-dest-${n}`), media);
    ok("backup", await runRunner(["backup", "--tier", "daily"], env));
    tarEnv = { ...fileEnv(path.join(work, `refuse-tar-${n}`), media), MEDIA_FORMAT: "tar" };
    ok("tar backup", await runRunner(["backup", "--tier", "daily"], tarEnv));
    parent = path.join(work, `refuse-targets-${n}`);
    await mkdir(parent);
  });

  const cases: Array<{
    what: string;
    args: (t: string) => string[];
    expect: RegExp;
    tar?: boolean;
    existing?: boolean;
  }> = [
    { what: "without --media-only", args: (t) => ["--media-dir", t, "--path", "doc"], expect: /add --media-only/ },
    {
      what: "without --media-dir",
      args: () => ["--media-only", "--path", "doc"],
      expect: /--path needs --media-dir NEW_FOLDER/,
    },
    {
      what: "a path that matches nothing (a prefix of a sibling's name)",
      args: (t) => ["--media-only", "--media-dir", t, "--path", "docs", "--path", "doc/b.pdf"],
      expect: /--path "docs": nothing in backup .* has this name .*edms-backup files/,
    },
    {
      what: "a name that differs only by case",
      args: (t) => ["--media-only", "--media-dir", t, "--path", "DOC"],
      expect: /--path "DOC": nothing in backup/,
    },
    { what: "..", args: (t) => ["--media-only", "--media-dir", t, "--path", "doc/../../etc"], expect: /holds "\.\."/ },
    {
      what: "an absolute path",
      args: (t) => ["--media-only", "--media-dir", t, "--path", `${media}/doc/b.pdf`],
      expect: /is absolute; give the name below the media folder/,
    },
    {
      what: "a tar-format set",
      args: (t) => ["--media-only", "--media-dir", t, "--path", "doc"],
      expect: /one tar archive, which --path does not pick from/,
      tar: true,
    },
    {
      what: "a non-empty --media-dir",
      args: (t) => ["--media-only", "--media-dir", t, "--path", "doc"],
      expect: /is not empty .*new or empty folder only/,
      existing: true,
    },
  ];
  for (const c of cases)
    it(c.what, async () => {
      n += 1;
      const target = path.join(parent, `t-${n}`);
      if (c.existing) {
        await mkdir(target);
        await writeFile(path.join(target, "precious.txt"), "keep me");
      }
      const r = await runRunner(["restore", "latest", ...c.args(target), "--yes"], c.tar ? tarEnv : env);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(c.expect);
      if (c.existing) expect(await readdir(target)).toEqual(["precious.txt"]);
      else await nothingWritten(parent, target, false);
    });

  it("the live MEDIA_DIR, even given as --media-dir through another spelling, and its contents are untouched", async () => {
    const before = await snapshotTree(media);
    for (const given of [media, `${media}/`, `${path.dirname(media)}/./${path.basename(media)}`]) {
      const r = await runRunner(
        ["restore", "latest", "--media-only", "--media-dir", given, "--path", "doc", "--yes"],
        env,
      );
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/is the live media folder \(MEDIA_DIR\)/);
    }
    expect(await snapshotTree(media)).toEqual(before);
  });

  it("an empty existing folder is accepted and the restored entry is exact", async () => {
    n += 1;
    const target = path.join(parent, `empty-${n}`);
    await mkdir(target);
    ok(
      "restore",
      await runRunner(
        ["restore", "latest", "--media-only", "--media-dir", target, "--path", "doc/b.pdf", "--yes"],
        env,
      ),
    );
    expect(await readFile(path.join(target, "doc", "b.pdf"), "utf8")).toBe("b");
    expect(await readdir(target)).toEqual(["doc"]);
    expect(await readdir(path.join(target, "doc"))).toEqual(["b.pdf"]);
  });
});

describe("restore --path on S3 with age: a non-UTF-8 name pasted from `files`, objects MEDIA_STORE_TRANSFERS at a time", () => {
  it("restores the entry `files` printed; a full restore opens at most MEDIA_STORE_TRANSFERS object downloads at once", async () => {
    const bucket = await createTestBucket(s3Endpoint);
    n += 1;
    const media = path.join(work, `s3-media-${n}`);
    await mkdir(path.join(media, "big"), { recursive: true });
    for (let i = 0; i < 24; i += 1) await writeFile(path.join(media, "big", `part-${i}.bin`), randomBytes(512 * 1024));
    const odd = Buffer.concat([
      Buffer.from(media),
      Buffer.from("/caf"),
      Buffer.from([0xe9, 0x0a]),
      Buffer.from(".pdf"),
    ]);
    await writeFile(odd, "latin-1 name with a newline");
    const env = {
      ...bucket.env("enc"),
      BACKUP_DATABASE: "false",
      MEDIA_DIR: media,
      MEDIA_FORMAT: "store",
      MEDIA_STORE_KEY: KEY,
      ENCRYPTION_RECIPIENTS: age.recipient,
      AGE_IDENTITY_FILE: age.file,
    };
    ok("backup", await runRunner(["backup", "--tier", "daily"], env));
    const listed = ok("files", await runRunner(["files", "latest"], env)).stdout.split("\n");
    const line = listed.find((l) => l.includes("caf\\351"))!;
    const printed = line.slice(line.indexOf('"'));
    expect(printed).toBe('"caf\\351\\n.pdf"');
    const target = path.join(work, `s3-restored-${n}`);
    ok(
      "restore --path",
      await runRunner(["restore", "latest", "--media-only", "--media-dir", target, "--path", printed, "--yes"], env),
    );
    const names = await readdir(target, { encoding: "buffer" });
    expect(names.map((b) => b.toString("hex"))).toEqual([Buffer.from("caf\xe9\n.pdf", "latin1").toString("hex")]);
    expect(await readFile(Buffer.concat([Buffer.from(target), SLASH, names[0]!]), "utf8")).toBe(
      "latin-1 name with a newline",
    );

    const forwarder = await startForwarder();
    try {
      forwarder.setTarget(Number(new URL(s3Endpoint).port));
      const through = { ...env, S3_ENDPOINT: `http://127.0.0.1:${forwarder.port}`, MEDIA_STORE_TRANSFERS: "2" };
      const all = path.join(work, `s3-all-${n}`);
      ok(
        "restore with 2 transfers",
        await runRunner(["restore", "latest", "--media-only", "--media-dir", all, "--yes"], through),
      );
      expect(await snapshotTree(all)).toEqual(await snapshotTree(media));
      // Two objects, the index (read while objects come) and one spare for a socket being replaced.
      expect(forwarder.peakConnections()).toBeLessThanOrEqual(4);
    } finally {
      await forwarder.stop();
    }
  });
});
