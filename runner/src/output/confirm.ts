import { createInterface } from "node:readline/promises";
import { ConfigError, RunnerError } from "../errors.js";

/**
 * Asks before a destructive step. On a terminal the operator answers; without one (a Job, a
 * pipe) there is nobody to ask, so `--yes` must say it up front.
 */
export async function confirmOrRefuse(question: string, yes: boolean, said: readonly string[] = []): Promise<void> {
  if (yes) return;
  if (!process.stdin.isTTY) {
    // `said`: lines already logged just before the question; the refusal repeats them as context.
    const context = said.length ? `${said.join("\n")}\n` : "";
    throw new ConfigError([`--yes: required without a terminal, to confirm: ${context}${question}`]);
  }
  // On a terminal the log lines just above the prompt already said them: asked once, not twice.
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = (await rl.question(`${question} [y/N] `)).trim().toLowerCase();
    if (answer !== "y" && answer !== "yes") throw new RunnerError("not confirmed; nothing was changed");
  } finally {
    rl.close();
  }
}
