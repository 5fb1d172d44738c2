/**
 * The edms-backup command line. Each command turns flags + environment into validated settings,
 * runs, and ends with exit 0, or a single message and a non-zero exit: 1 for a failed run, 2 for
 * bad input, 130/143 when stopped by SIGINT/SIGTERM.
 */
import { Command, CommanderError } from "commander";
import { ConfigError, RunnerError, errorMessage } from "./errors.js";
import { redact } from "./output/redact.js";
import { registerBackupCommand } from "./cli/backup-command.js";
import { registerVerifyCommand } from "./cli/verify-command.js";
import { registerFilesCommand } from "./cli/files-command.js";
import { registerRestoreCommand } from "./cli/restore-command.js";
import { registerDrillCommand } from "./cli/drill-command.js";
import { registerImportCommand } from "./cli/import-command.js";
import { registerListCommand } from "./cli/list-command.js";
import { registerStatusCommand } from "./cli/status-command.js";
import { registerPruneCommand } from "./cli/prune-command.js";
import { registerUndoCommand } from "./cli/undo-command.js";
import { registerCleanupCommand } from "./cli/cleanup-command.js";
import { registerGcCommand } from "./cli/gc-command.js";
import { registerExporterCommand } from "./cli/exporter-command.js";
import { registerCheckDeployCommand } from "./cli/check-deploy-command.js";
import { RUNNER_VERSION } from "./version.js";
import { finalLine, finalLogFormat, type LogFormat } from "./output/exit-line.js";

const USAGE_HINT = "add --help for usage";

export function buildProgram(format: LogFormat = "pretty"): Command {
  const program = new Command("edms-backup")
    .description("Tiered, verified, restorable backups of PostgreSQL + a media folder")
    .version(RUNNER_VERSION)
    .exitOverride()
    // Usage errors: the message and "Did you mean" last on the screen, not 30 lines of help after
    // them; with JSON logs, one JSON line. Set before the commands are added: they copy it.
    .showHelpAfterError(format === "pretty" ? `(${USAGE_HINT})` : false)
    .configureOutput({
      outputError: (text, write) =>
        write(
          format === "pretty"
            ? text
            : finalLine("json", { message: `${text.trim().split("\n").join(" ")} (${USAGE_HINT})`, exitCode: 2 }),
        ),
    });
  registerBackupCommand(program);
  registerVerifyCommand(program);
  registerFilesCommand(program);
  registerRestoreCommand(program);
  registerDrillCommand(program);
  registerImportCommand(program);
  registerListCommand(program);
  registerStatusCommand(program);
  registerPruneCommand(program);
  registerUndoCommand(program);
  registerCleanupCommand(program);
  registerGcCommand(program);
  registerExporterCommand(program);
  registerCheckDeployCommand(program);
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  const format = finalLogFormat(argv, process.env, Boolean(process.stdout.isTTY));
  try {
    await buildProgram(format).parseAsync(argv as string[], { from: "user" });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version requests end here with code 0; usage errors were printed by commander.
      return error.exitCode === 0 ? 0 : 2;
    }
    const exitCode = error instanceof RunnerError ? error.exitCode : 1;
    const problems = error instanceof ConfigError ? error.problems.map((p) => redact(p)) : undefined;
    process.stderr.write(finalLine(format, { message: redact(errorMessage(error)), exitCode, problems }));
    return exitCode;
  }
}
