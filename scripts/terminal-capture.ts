// `npm run capture:terminal`: what an operator sees on an 80-column terminal during a backup and a
// restore, rendered by a terminal emulator from a real pseudo-terminal run (the harness of
// test/e2e/terminal-output.test.ts). The README's terminal capture is this script's output.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { awsTestEnv, startMoto } from "../test/helpers/moto.js";
import { startPgCluster } from "../test/helpers/pg-cluster.js";
import { sql } from "../test/helpers/pg-test-db.js";
import { createTestBucket } from "../test/helpers/s3-bucket.js";
import { makeMediaTree, seedEdmsDatabase } from "../test/helpers/sample-data.js";
import { renderScreen, runOnTerminal } from "../test/helpers/terminal.js";

async function show(args: string[], env: Record<string, string>): Promise<void> {
  const run = await runOnTerminal(args, { ...env, NO_COLOR: "1" }, { columns: 80 });
  if (run.code !== 0) throw new Error(`edms-backup ${args[0]} exited ${run.code}:\n${run.raw}`);
  // The screen while it ran: everything printed up to a redraw about halfway through the streams.
  const redraws = [...run.raw.matchAll(/\u001b\[J/g)].map((m) => m.index);
  const midway = redraws[Math.floor(redraws.length / 2)] ?? run.raw.length;
  const during = await renderScreen(run.raw.slice(0, midway), 80, 24);
  process.stdout.write(`$ node dist/edms-backup.cjs ${args.join(" ")}\n`);
  process.stdout.write(`${during.map((r) => r.text).join("\n")}\n\n`);
  process.stdout.write(`... and when it has finished:\n\n${run.rows.map((r) => r.text).join("\n")}\n\n`);
}

async function main(): Promise<void> {
  Object.assign(process.env, awsTestEnv(), { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" });
  const work = await mkdtemp(path.join(tmpdir(), "edms-capture-"));
  const [cluster, moto] = await Promise.all([startPgCluster(), startMoto()]);
  try {
    await sql(cluster.url("postgres"), "create database edms");
    await seedEdmsDatabase(cluster.url("edms"), { documents: 5000 });
    const media = path.join(work, "media");
    await makeMediaTree(media, { bigFileMiB: 64 });
    const bucket = await createTestBucket(moto.endpoint);
    const env = { ...awsTestEnv(), ...bucket.env("edms"), DATABASE_URL: cluster.url("edms") };
    await show(["backup", "--tier", "daily"], { ...env, MEDIA_DIR: media });
    await show(
      ["restore", "latest", "--yes", "--target-db", "edms_copy", "--media-dir", path.join(work, "restored")],
      env,
    );
  } finally {
    await Promise.all([cluster.stop(), moto.stop()]);
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
