/**
 * The edms-backup command line. Each command turns flags + environment into validated settings,
 * runs, and ends with exit 0, or a single message and a non-zero exit: 1 for a failed run, 2 for
 * bad input, 130/143 when stopped by SIGINT/SIGTERM.
 */
import { Command, CommanderError } from "commander";
import { ConfigError, RunnerError, errorMessage } from "./errors.js";
import { printable } from "./format.js";
import { redact } from "./redact.js";
import { registerBackupCommand } from "./cli/backup-command.js";
import { registerVerifyCommand } from "./cli/verify-command.js";
import { registerRestoreCommand } from "./cli/restore-command.js";
import { registerDrillCommand } from "./cli/drill-command.js";
import { registerImportCommand } from "./cli/import-command.js";
import { registerListCommand } from "./cli/list-command.js";
import { registerStatusCommand } from "./cli/status-command.js";
import { registerPruneCommand } from "./cli/prune-command.js";
import { registerUndoCommands } from "./cli/undo-command.js";
import { RUNNER_VERSION } from "./version.js";

export function buildProgram(): Command {
  const program = new Command("edms-backup")
    .description("Tiered, verified, restorable backups of PostgreSQL + a media folder")
    .version(RUNNER_VERSION)
    .exitOverride()
    .showHelpAfterError();
  registerBackupCommand(program);
  registerVerifyCommand(program);
  registerRestoreCommand(program);
  registerDrillCommand(program);
  registerImportCommand(program);
  registerListCommand(program);
  registerStatusCommand(program);
  registerPruneCommand(program);
  registerUndoCommands(program);
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv as string[], { from: "user" });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version requests end here with code 0; usage errors were printed by commander.
      return error.exitCode === 0 ? 0 : 2;
    }
    const message = printable(redact(errorMessage(error)));
    process.stderr.write(`edms-backup: ${message}\n`);
    if (error instanceof ConfigError || error instanceof RunnerError) return error.exitCode;
    return 1;
  }
}
