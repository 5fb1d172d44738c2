// The bench's groups after a backup: restore (the runner's against pg_restore and tar -x), the two
// age implementations on the runner's own objects, and the start-up of each command.
import { mkdir, readdir } from "node:fs/promises";
import { join } from "node:path";
import {
  REPO,
  RESTORE_JOBS,
  RUNNER,
  alternate,
  log,
  noOutput,
  pagedBytes,
  runs,
  sh,
  summarize,
  type BenchContext,
  type Case,
  type Row,
} from "./harness.js";
import type { RunnerSet } from "./backup-groups.js";

/** Restore: the runner (verified, and with --scratch-dir --jobs) against pg_restore from a file + tar -x. */
export async function restoreGroup(ctx: BenchContext, runnerSet: RunnerSet): Promise<Row[]> {
  const { work, baseEnv, binDir, cluster, runnerEnv } = ctx;
  const { kept, dumpObject, mediaObject, dumpToStdout } = runnerSet;
  const set = join(kept, "daily", (await readdir(join(kept, "daily")))[0]!);
  const target = join(work, "restored-media");
  const dropAll = async () => {
    await sh(
      join(binDir, "psql"),
      ["-X", "-q", "-d", "postgres", "-c", "DROP DATABASE IF EXISTS restored WITH (FORCE)"],
      baseEnv,
    );
    await sh("bash", ["-c", `rm -rf "${target}" "${work}"/.restored-media.edms-*`]);
  };
  const restoredPaged = async () => {
    const p = await pagedBytes(target);
    return { output: p.bytes, localDestinationPaged: p.paged };
  };
  const restoreCases: Case[] = [
    {
      name: "runner restore (file://)",
      script: `exec node "${RUNNER}" restore latest --yes --target-db restored --media-dir "${target}"`,
      env: { ...runnerEnv(`file://${kept}`), DATABASE_URL: cluster.url("postgres"), MEDIA_DIR: target },
      before: dropAll,
      after: restoredPaged,
    },
    {
      name: "pg_restore file & tar -x file",
      script:
        `createdb restored && { ${dumpToStdout(`${set}/${dumpObject}`)} | pg_restore --no-owner --exit-on-error -d restored & d=$!; ` +
        `mkdir -p "${target}" && tar -xf "${set}/${mediaObject}" -C "${target}"; t=$?; wait $d; exit $(( t | $? )); }`,
      env: baseEnv,
      before: dropAll,
      after: restoredPaged,
    },
    // pg_restore --jobs reads only files: the runner from its verified scratch copy (in the
    // measured command's scratch folder, so its bytes count as temporary bytes), the baseline
    // from a plain copy it decodes itself, both with the same jobs.
    {
      name: `runner restore --scratch-dir --jobs ${RESTORE_JOBS}`,
      script: `exec node "${RUNNER}" restore latest --yes --target-db restored --media-dir "${target}" --scratch-dir "$PWD" --jobs ${RESTORE_JOBS}`,
      env: { ...runnerEnv(`file://${kept}`), DATABASE_URL: cluster.url("postgres"), MEDIA_DIR: target },
      before: dropAll,
      after: restoredPaged,
    },
    {
      name: `pg_restore --jobs ${RESTORE_JOBS} file & tar -x file`,
      script:
        `createdb restored && { { ${dumpToStdout(`${set}/${dumpObject}`)} > plain.dump && pg_restore --no-owner --exit-on-error --jobs ${RESTORE_JOBS} -d restored plain.dump; } & d=$!; ` +
        `mkdir -p "${target}" && tar -xf "${set}/${mediaObject}" -C "${target}"; t=$?; wait $d; exit $(( t | $? )); }`,
      env: baseEnv,
      before: dropAll,
      after: restoredPaged,
    },
  ];
  log(`restore: ${runs} alternating runs of ${restoreCases.length} approaches`);
  const rows = summarize("restore", await alternate(restoreCases, work));
  await dropAll();
  return rows;
}

/** Encryption: the two implementations on the runner's own objects. */
export async function encryptionGroup(ctx: BenchContext, kept: string): Promise<Row[]> {
  const { baseEnv, recipient } = ctx;
  const set = join(kept, "daily", (await readdir(join(kept, "daily")))[0]!);
  const objects = (await readdir(set)).filter((f) => f !== "manifest.json").map((f) => `"${join(set, f)}"`);
  const encryptCases: Case[] = [
    {
      name: "age binary (age -r … > /dev/null, each object)",
      script: objects.map((o) => `age -r ${recipient} ${o} > /dev/null`).join(" && "),
      env: baseEnv,
      after: noOutput,
    },
    {
      name: "age-encryption (npm, streaming, each object)",
      script: `exec node "${join(REPO, "bench", "age-js-encrypt.mjs")}" ${recipient} ${objects.join(" ")}`,
      env: baseEnv,
      after: noOutput,
    },
  ];
  log(`encryption: ${runs} alternating runs of ${encryptCases.length} implementations`);
  return summarize("encrypt", await alternate(encryptCases, ctx.work));
}

/** Start-up: node alone, and the bundle per command on an empty destination. */
export async function startupGroup(ctx: BenchContext): Promise<Row[]> {
  const { work, runnerEnv } = ctx;
  const empty = join(work, "empty-destination");
  await mkdir(empty, { recursive: true });
  const startEnv = runnerEnv(`file://${empty}`);
  const startCases: Case[] = [
    ["node -e 0 (Node itself)", `exec node -e 0`],
    ["runner --version", `exec node "${RUNNER}" --version`],
    ["runner list (empty file://)", `exec node "${RUNNER}" list`],
    ["runner status (empty file://)", `node "${RUNNER}" status; [ $? -le 1 ]`],
    ["runner backup --help", `exec node "${RUNNER}" backup --help`],
  ].map(([name, script]) => ({
    name: name!,
    script: script!,
    env: startEnv,
    after: noOutput,
  }));
  log(`start-up: ${Math.max(runs, 5)} alternating runs of ${startCases.length} commands`);
  return summarize("start-up", await alternate(startCases, work, Math.max(runs, 5)));
}
