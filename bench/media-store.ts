// npm run bench:store -- [--files N] [--file-kib K]
//
// The media store (MEDIA_FORMAT=store) beside the tar format and restic on one generated tree
// (default 5,000 files of 32 KiB, ~160 MB, incompressible), file:// only: a first backup, then
// 1% of the files changed (0.5% rewritten, 0.25% new, 0.25% deleted) and a second backup. Prints
// wall time and what each destination grew by, per run; writes .bench/media-store/results.json.
// restic runs with RESTIC_PASSWORD set and --no-cache off (its default local cache is used).
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, readdir, rm, stat, unlink, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";

const REPO = resolve(__dirname, "..");
const RUNNER = join(REPO, "dist", "edms-backup.cjs");
const WORK = join(REPO, ".bench", "media-store");
const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const FILES = Number(arg("--files") ?? 5000);
const FILE_BYTES = Number(arg("--file-kib") ?? 32) * 1024;

async function treeBytes(path: string): Promise<number> {
  const info = await stat(path).catch(() => undefined);
  if (!info) return 0;
  if (!info.isDirectory()) return info.size;
  let sum = 0;
  for (const e of await readdir(path)) sum += await treeBytes(join(path, e));
  return sum;
}

function timed(command: string, args: string[], env: NodeJS.ProcessEnv): number {
  const t = process.hrtime.bigint();
  execFileSync(command, args, { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "inherit"] });
  return Number(process.hrtime.bigint() - t) / 1e9;
}

async function main(): Promise<void> {
  await rm(WORK, { recursive: true, force: true });
  const media = join(WORK, "media");
  for (let d = 0; d < FILES / 100; d += 1) await mkdir(join(media, `d${d}`), { recursive: true });
  const name = (i: number) => join(media, `d${Math.floor(i / 100) % Math.ceil(FILES / 100)}`, `doc-${i}.pdf`);
  for (let i = 0; i < FILES; i += 1) await writeFile(name(i), randomBytes(FILE_BYTES));
  const live = await treeBytes(media);
  const base = { BACKUP_DATABASE: "false", MEDIA_DIR: media, LOG_LEVEL: "warn", LOG_FORMAT: "json" };
  /** The runner backing up to its own folder with `env` added. */
  const runner = (dest: string, env: NodeJS.ProcessEnv) => ({
    dest,
    run: () =>
      timed("node", [RUNNER, "backup", "--tier", "daily"], { ...base, BACKUP_DESTINATION: `file://${dest}`, ...env }),
  });
  const approaches: Record<string, { dest: string; run: () => number }> = {
    tar: runner(join(WORK, "tar"), { MEDIA_FORMAT: "tar" }),
    store: runner(join(WORK, "store"), {
      MEDIA_FORMAT: "store",
      MEDIA_STORE_KEY: "bench-store-key-0123456789abcdef0123456789",
    }),
    restic: {
      dest: join(WORK, "restic"),
      run: () => timed("restic", ["-q", "-r", join(WORK, "restic"), "backup", media], { RESTIC_PASSWORD: "bench" }),
    },
  };
  execFileSync("restic", ["-q", "-r", join(WORK, "restic"), "init"], {
    env: { ...process.env, RESTIC_PASSWORD: "bench" },
  });
  const rows: Array<Record<string, string | number>> = [];
  for (const [what, a] of Object.entries(approaches)) {
    const seconds = a.run();
    rows.push({ approach: what, run: "first", seconds, grewMB: (await treeBytes(a.dest)) / 1e6 });
  }
  // 1% change: rewritten, new, deleted.
  const pct = (p: number) => Math.max(1, Math.round((FILES * p) / 100));
  for (let i = 0; i < pct(0.5); i += 1) await writeFile(name(i * 7), randomBytes(FILE_BYTES));
  for (let i = 0; i < pct(0.25); i += 1) await writeFile(join(media, "d0", `new-${i}.pdf`), randomBytes(FILE_BYTES));
  for (let i = 0; i < pct(0.25); i += 1) await unlink(name(FILES - 1 - i * 3)).catch(() => undefined);
  const changedMB = ((pct(0.5) + pct(0.25)) * FILE_BYTES) / 1e6;
  for (const [what, a] of Object.entries(approaches)) {
    const before = await treeBytes(a.dest);
    const seconds = a.run();
    rows.push({
      approach: what,
      run: "second (1% changed)",
      seconds,
      grewMB: ((await treeBytes(a.dest)) - before) / 1e6,
    });
  }
  const result = { files: FILES, fileBytes: FILE_BYTES, liveMB: live / 1e6, changedMB, rows };
  await writeFile(join(WORK, "results.json"), JSON.stringify(result, null, 2));
  process.stdout.write(`tree: ${FILES} files, ${(live / 1e6).toFixed(1)} MB; changed: ${changedMB.toFixed(1)} MB\n`);
  process.stdout.write("| approach | run | seconds | destination grew (MB) |\n| --- | --- | --- | --- |\n");
  for (const r of rows)
    process.stdout.write(
      `| ${r.approach} | ${r.run} | ${(r.seconds as number).toFixed(2)} | ${(r.grewMB as number).toFixed(2)} |\n`,
    );
}

void main();
