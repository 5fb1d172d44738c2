import { createInterface } from "node:readline/promises";
import { ConfigError, RunnerError } from "../errors.js";

/**
 * Asks before a destructive step. On a terminal the operator answers; without one (a Job, a
 * pipe) there is nobody to ask, so `--yes` must say it up front.
 */
export async function confirmOrRefuse(question: string, yes: boolean): Promise<void> {
  if (yes) return;
  if (!process.stdin.isTTY) {
    throw new ConfigError([`--yes: required without a terminal, to confirm: ${question}`]);
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = (await rl.question(`${question} [y/N] `)).trim().toLowerCase();
    if (answer !== "y" && answer !== "yes") throw new RunnerError("not confirmed; nothing was changed");
  } finally {
    rl.close();
  }
}
