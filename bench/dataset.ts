// Benchmark datasets: a pgbench database plus a `documents` table (text + jsonb), and a media
// folder of mixed files: incompressible "scans" (random bytes) and compressible text, 1 KB to
// 50 MB. The media folder is cached in .bench/<size>/media (re-runs skip it); the database is
// generated server-side (pgbench -I G, generate_series) into each run's throwaway cluster.
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, open, readdir, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { spawn } from "node:child_process";

export type SizeName = "small" | "large" | "pgbench20";

export interface DatasetSpec {
  size: SizeName;
  pgbenchScale: number;
  documents: number;
  mediaBytes: number;
}

export const SPECS: Record<SizeName, DatasetSpec> = {
  // ~150 MB database + ~150 MB media
  small: { size: "small", pgbenchScale: 6, documents: 40_000, mediaBytes: 150 * 2 ** 20 },
  // ~1.5 GB database + ~1.5 GB media
  large: { size: "large", pgbenchScale: 60, documents: 400_000, mediaBytes: 1536 * 2 ** 20 },
  // The figure the backup and restore issues ask for: pgbench scale 20 (~300 MB) + 200 MB of media.
  pgbench20: { size: "pgbench20", pgbenchScale: 20, documents: 0, mediaBytes: 200 * 2 ** 20 },
};

const MiB = 2 ** 20;

/** Deterministic PRNG (mulberry32), so a size always yields the same file list. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = (
  "document approval workflow revision controlled copy effective date owner reviewer quality " +
  "procedure specification deviation change request training record audit finding corrective " +
  "action preventive signature electronic compliance section paragraph table figure annex the " +
  "of and to in is for with on as by this that be are shall must should may batch lot number"
).split(" ");

/** ~4 MiB of word salad with numbers: compresses ~3-4x with gzip, like office text/HTML. */
function textBlock(rand: () => number): Buffer {
  const parts: string[] = [];
  let size = 0;
  let line = 0;
  while (size < 4 * MiB) {
    const n = 8 + Math.floor(rand() * 14);
    const words: string[] = [];
    for (let i = 0; i < n; i++) words.push(WORDS[Math.floor(rand() * WORDS.length)]!);
    const s = `${++line} ${words.join(" ")} ${Math.floor(rand() * 1e9)}\n`;
    parts.push(s);
    size += s.length;
  }
  return Buffer.from(parts.join(""));
}

/** File sizes, log-uniform between 1 KiB and 50 MiB, always including both ends. */
function plan(total: number, rand: () => number): { size: number; kind: "scan" | "text" }[] {
  const files: { size: number; kind: "scan" | "text" }[] = [
    { size: 50 * MiB, kind: "scan" },
    { size: 1024, kind: "text" },
    { size: 8 * MiB, kind: "text" },
  ];
  let sum = files.reduce((s, f) => s + f.size, 0);
  const lo = Math.log(1024);
  const hi = Math.log(50 * MiB);
  let scanBytes = 50 * MiB;
  while (sum < total) {
    const size = Math.min(total - sum, Math.round(Math.exp(lo + (hi - lo) * rand() ** 5)));
    // About 60% of the bytes are scans (already compressed: PDF/JPEG/TIFF), 40% text.
    const kind = scanBytes < 0.6 * (sum + size) ? "scan" : "text";
    if (kind === "scan") scanBytes += size;
    files.push({ size: Math.max(size, 1024), kind });
    sum += Math.max(size, 1024);
  }
  return files;
}

async function writeFileOf(
  path: string,
  size: number,
  kind: "scan" | "text",
  text: Buffer,
  rand: () => number,
): Promise<void> {
  const handle = await open(path, "w");
  try {
    let left = size;
    while (left > 0) {
      const n = Math.min(left, 4 * MiB);
      if (kind === "scan") await handle.write(randomBytes(n));
      else {
        const start = Math.floor(rand() * (text.length - n));
        await handle.write(text.subarray(start, start + n));
      }
      left -= n;
    }
  } finally {
    await handle.close();
  }
}

export async function ensureMedia(
  root: string,
  spec: DatasetSpec,
  log: (s: string) => void,
): Promise<{ dir: string; files: number; bytes: number }> {
  const base = join(root, spec.size);
  const dir = join(base, "media");
  const marker = join(base, "media.done");
  if (!existsSync(marker)) {
    log(`generating media (${(spec.mediaBytes / MiB).toFixed(0)} MiB) in ${dir} ...`);
    await rm(dir, { recursive: true, force: true });
    const rand = prng(spec.size === "small" ? 1 : spec.size === "large" ? 2 : 3);
    const text = textBlock(rand);
    const files = plan(spec.mediaBytes, rand);
    let i = 0;
    for (const f of files) {
      const sub = join(dir, `${2020 + (i % 6)}`, `${String(1 + (i % 12)).padStart(2, "0")}`);
      await mkdir(sub, { recursive: true });
      const ext = f.kind === "scan" ? (i % 2 ? "pdf" : "jpg") : i % 2 ? "txt" : "html";
      await writeFileOf(join(sub, `doc-${String(i).padStart(6, "0")} scan.${ext}`), f.size, f.kind, text, rand);
      i++;
    }
    await writeFile(marker, JSON.stringify({ files: files.length }));
  }
  let files = 0;
  let bytes = 0;
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) {
        files++;
        bytes += (await stat(p)).size;
      }
    }
  };
  await walk(dir);
  return { dir, files, bytes };
}

function runChecked(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr.setEncoding("utf8").on("data", (s: string) => (err = (err + s).slice(-4000)));
    child.once("error", reject);
    child.once("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`${command} ${args.join(" ")} exited ${code}: ${err}`)),
    );
  });
}

/** Creates database `db` (pgbench tables + documents) with the given PG* environment. */
export async function createDatabase(
  binDir: string,
  env: NodeJS.ProcessEnv,
  db: string,
  spec: DatasetSpec,
): Promise<void> {
  await runChecked(
    join(binDir, "psql"),
    ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", "postgres", "-c", `CREATE DATABASE ${db}`],
    env,
  );
  const dbEnv = { ...env, PGDATABASE: db };
  // d=drop t=create tables G=server-side generate p=primary keys (no vacuum: not needed for a dump).
  await runChecked(join(binDir, "pgbench"), ["-i", "-q", "-I", "dtGp", "-s", String(spec.pgbenchScale), db], dbEnv);
  const sql = `
CREATE TABLE documents (
  id bigint PRIMARY KEY,
  title text NOT NULL,
  body text NOT NULL,
  metadata jsonb NOT NULL,
  created timestamptz NOT NULL
);
INSERT INTO documents
SELECT i,
       'Controlled document ' || i,
       (SELECT string_agg(md5((i * 31 + j)::text), ' ') FROM generate_series(1, 40) j),
       jsonb_build_object('owner', i % 250, 'state', (ARRAY['draft','review','approved','archived'])[1 + i % 4],
                          'sha256', md5(i::text) || md5((-i)::text), 'pages', i % 97, 'tags', ARRAY['qa', 'sop', 'v' || (i % 9)]),
       timestamptz '2024-01-01' + i * interval '1 minute'
FROM generate_series(1, ${spec.documents}) i;
CREATE INDEX documents_owner ON documents ((metadata->>'owner'));
ANALYZE;`;
  await runChecked(join(binDir, "psql"), ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql], dbEnv);
}
