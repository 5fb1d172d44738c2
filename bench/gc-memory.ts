// npm run bench:gc -- [--objects N] [--sets S] [--runner BUNDLE ...]
//
// gc of the content store at scale: peak RSS and time of `gc` over a generated file:// store of N
// tiny content objects (default 200,000) and S complete daily sets (default 3) whose object lists
// each name 98% of them (set s leaves out every object i with i % 100 == s, and no set names
// i % 100 == 99: 1% is garbage). The store and lists are written directly
// (test/helpers/generated-store.ts): backing up a million files to get them takes far longer than
// gc itself, and gc reads nothing else of a set.
//
// For each bundle (--runner, repeatable; default dist/edms-backup.cjs), on the same store:
// `gc --dry-run` and `gc --yes` with a 48 h grace (lists, marks, records 1% as candidates, deletes
// nothing); then the first bundle runs `gc --yes` with grace 0 (deletes the 1%). Compare two
// builds by passing both, e.g. one built from an older commit in its own worktree.
// Each run is measured by bench/measure.ts (wall, CPU of the tree, peak RSS of the tree).
import { mkdir, rm } from "node:fs/promises";
import { loadavg } from "node:os";
import { join, resolve } from "node:path";
import { generatedBackupId, generatedKey, writeObjects, writeSet } from "../test/helpers/generated-store.js";
import { measure } from "./measure.js";

const REPO = resolve(__dirname, "..");
const WORK = join(REPO, ".bench", "gc");
const args = process.argv.slice(2);
const arg = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const OBJECTS = Number(arg("--objects") ?? 200_000);
const SETS = Number(arg("--sets") ?? 3);
const runners = args.flatMap((a, i) => (a === "--runner" && args[i + 1] ? [resolve(args[i + 1]!)] : []));
if (runners.length === 0) runners.push(join(REPO, "dist", "edms-backup.cjs"));

function* range(n: number, keep: (i: number) => boolean): Generator<string> {
  for (let i = 0; i < n; i += 1) if (keep(i)) yield generatedKey(i);
}

async function main(): Promise<void> {
  await rm(WORK, { recursive: true, force: true });
  const dest = join(WORK, "dest");
  const scratch = join(WORK, "scratch");
  await mkdir(scratch, { recursive: true });
  let t = performance.now();
  await writeObjects(
    dest,
    range(OBJECTS, () => true),
  );
  for (let s = 0; s < SETS; s += 1)
    await writeSet(dest, {
      tier: "daily",
      backupId: generatedBackupId(s),
      keys: range(OBJECTS, (i) => i % 100 !== s && i % 100 !== 99),
      complete: true,
    });
  console.log(`generated ${OBJECTS} objects and ${SETS} sets in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  t = performance.now();

  const rows: string[] = [
    "| runner | run | wall (s) | CPU (s) | peak RSS (MiB) | load |",
    "| --- | --- | --- | --- | --- | --- |",
  ];
  const run = async (runner: string, label: string, gcArgs: string[], grace: string) => {
    const load = loadavg()[0]!;
    const m = await measure(process.execPath, [runner, "gc", ...gcArgs], {
      scratch,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        BACKUP_DESTINATION: `file://${dest}`,
        MEDIA_STORE_GC_GRACE_HOURS: grace,
      },
    });
    if (m.exitCode !== 0) throw new Error(`${label} exited ${m.exitCode}: ${m.stderrTail}`);
    const row = `| ${runner.replace(`${REPO}/`, "")} | ${label} | ${(m.wallMs / 1000).toFixed(1)} | ${m.cpuS.toFixed(1)} | ${(m.peakRssBytes / 2 ** 20).toFixed(0)} | ${load.toFixed(1)} |`;
    console.log(row);
    rows.push(row);
  };
  for (const runner of runners) {
    await run(runner, "gc --dry-run", ["--dry-run"], "48");
    await run(runner, "gc --yes (records 1% candidates)", ["--yes"], "48");
  }
  await run(runners[0]!, "gc --yes, grace 0 (deletes 1%)", ["--yes"], "0");
  console.log(`\n${OBJECTS} objects, ${SETS} sets of ${Math.round(OBJECTS * 0.98)} keys each\n${rows.join("\n")}`);
  await rm(WORK, { recursive: true, force: true });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
