import type { Command } from "commander";
import { resolveBackup } from "../catalog/catalog.js";
import type { Tier } from "../contract.js";
import { RunnerError } from "../errors.js";
import { verifyBackup } from "../commands/verify.js";
import { ConfigError } from "../errors.js";
import { mergeEnv } from "../settings/config.js";
import { runnerEnvSchema } from "../contract.js";
import { loadIdentity, type IdentitySettings } from "../encryption/identity.js";
import {
  addDestinationOptions,
  openContext,
  printOut,
  tierOption,
  withUnlockedSet,
  type DestinationFlags,
} from "./shared.js";

/** The identity for encrypted sets, when one is configured (bad ones: exit 2). */
export function identityFromEnv(): IdentitySettings | undefined {
  const problems: string[] = [];
  const raw = mergeEnv(process.env, {});
  const identity = loadIdentity(
    runnerEnvSchema.pick({ AGE_IDENTITY: true, AGE_IDENTITY_FILE: true }).parse(raw),
    problems,
  );
  if (problems.length) throw new ConfigError(problems);
  return identity;
}

interface VerifyFlags extends DestinationFlags {
  tier?: Tier;
  json?: boolean;
  full?: boolean;
}

async function verifyAction(ref: string, flags: VerifyFlags): Promise<void> {
  const identity = identityFromEnv();
  const { settings, store, log } = openContext(
    flags,
    {},
    { logToStderr: flags.json, secrets: identity ? [identity.secret] : [] },
  );
  if (identity?.warning) log.warn({ stage: "identity" }, identity.warning);
  const set = await resolveBackup(store, ref, flags.tier);
  // Without an identity an encrypted set is still verified, down to its stored bytes.
  const report = await withUnlockedSet(
    store,
    set,
    identity,
    (unlocked, open) =>
      verifyBackup(unlocked, { store, log, pgBinDir: settings.pgBinDir, identity: open, full: flags.full }),
    { required: false },
  );
  if (flags.json) printOut(JSON.stringify(report));
  if (!report.ok) {
    throw new RunnerError(
      `verify ${set.tier}/${set.backupId} FAILED:\n${report.problems.map((p) => `  - ${p}`).join("\n")}`,
    );
  }
  if (!flags.json)
    printOut(
      [
        `verify ${set.tier}/${set.backupId}: ok (${report.checked.join(", ")} match the manifest)`,
        ...report.warnings.map((w) => `WARNING: ${w}`),
        ...report.notes.map((n) => `note: ${n}`),
      ].join("\n"),
    );
}

export function registerVerifyCommand(program: Command): void {
  addDestinationOptions(
    program
      .command("verify")
      .description("re-read a backup set and check it against its manifest (exit 0 ok, 1 with what is wrong)")
      .argument("<backup>", "backup id or 'latest'")
      .addOption(tierOption("tier to pick 'latest' from")),
  )
    .option("--json", "print the report as JSON")
    .option(
      "--full",
      "store-format media: read every content object and check its sha256 (default: each is present with its size)",
    )
    .action((ref: string, flags: VerifyFlags) => verifyAction(ref, flags));
}
