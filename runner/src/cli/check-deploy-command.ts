import type { Command } from "commander";
import { Option } from "commander";
import { runDeployChecks } from "../commands/check-deploy.js";
import { loadDeployCheckSettings, restoreSecrets } from "../settings/config.js";
import { DEPLOY_CHECK_COMMAND } from "../contract.js";
import { RunnerError } from "../errors.js";
import { createLogger } from "../output/logger.js";

interface CheckDeployFlags {
  databaseUrl?: string;
  logFormat?: string;
}

async function checkDeployAction(flags: CheckDeployFlags): Promise<void> {
  const settings = loadDeployCheckSettings({
    processEnv: process.env,
    overrides: { DATABASE_URL: flags.databaseUrl, LOG_FORMAT: flags.logFormat },
    isTty: Boolean(process.stdout.isTTY),
  });
  const log = createLogger({ format: settings.logFormat, level: settings.logLevel, secrets: restoreSecrets(settings) });
  if (settings.identity?.warning) log.warn({ stage: "identity" }, settings.identity.warning);
  const results = await runDeployChecks(settings);
  // One line per check: what it proved, or (an error line) what is wrong and what to do.
  for (const r of results) {
    if (r.ok) log.info({ stage: "check", check: r.check, ok: true }, r.message);
    else log.error({ stage: "check", check: r.check, ok: false }, r.message);
  }
  const failed = results.filter((r) => !r.ok).map((r) => r.check);
  if (failed.length)
    throw new RunnerError(
      `${failed.length} of ${results.length} deploy checks failed (${failed.join(", ")}), each said above`,
    );
}

export function registerCheckDeployCommand(program: Command): void {
  program
    .command(DEPLOY_CHECK_COMMAND)
    .description(
      "prove that the identity (AGE_IDENTITY_FILE) decrypts what ENCRYPTION_RECIPIENTS encrypt and that the " +
        "database role (DATABASE_URL or PG*) can restore its database; exit 1 naming each failed check (the stack runs it on deploy)",
    )
    .option("--database-url <url>", "postgres://USER@HOST/DB of the role restores run as (env DATABASE_URL or PG*)")
    .addOption(new Option("--log-format <format>", "json or pretty (env LOG_FORMAT)").choices(["json", "pretty"]))
    .action((flags: CheckDeployFlags) => checkDeployAction(flags));
}
