// Runs the bundled runner on a real pseudo-terminal (util-linux `script`) and renders what it
// printed in a terminal emulator (@xterm/headless), so tests see the screen a person would see:
// cursor movements applied, overwritten text gone, long lines wrapped at the width.
// No vitest imports (the README capture script reuses it).
import { spawn } from "node:child_process";
import path from "node:path";
import { Terminal } from "@xterm/headless";
import { isolatedBundle } from "./runner-cli.js";

export interface ScreenRow {
  text: string;
  /** True when this row continues the one above (the line was longer than the width). */
  wrapped: boolean;
}

export interface TerminalRun {
  code: number | null;
  /** Everything the process wrote to the terminal (stdout and stderr), escape sequences included. */
  raw: string;
  /** The rendered screen and its scrollback, top to bottom, without trailing empty rows. */
  rows: ScreenRow[];
}

export interface TerminalOptions {
  columns?: number;
  rows?: number;
  /** Typed into the terminal at the start (e.g. an answer to a question); default: nothing. */
  input?: string;
}

const quote = (arg: string) => `'${arg.replace(/'/g, `'\\''`)}'`;

/** Renders raw terminal output as the rows an xterm of that size shows (scrollback included). */
export async function renderScreen(raw: string, columns: number, rows: number): Promise<ScreenRow[]> {
  const term = new Terminal({ cols: columns, rows, scrollback: 100_000, allowProposedApi: true });
  await new Promise<void>((resolve) => term.write(raw, resolve));
  const buffer = term.buffer.active;
  const out: ScreenRow[] = [];
  for (let i = 0; i < buffer.length; i++) {
    const line = buffer.getLine(i);
    out.push({ text: line?.translateToString(true) ?? "", wrapped: line?.isWrapped ?? false });
  }
  term.dispose();
  while (out.length && out[out.length - 1]!.text.trim() === "") out.pop();
  return out;
}

/**
 * Runs `edms-backup <args>` with only `env` (plus PATH/HOME/TERM) on a pseudo-terminal of the
 * given size: stdin, stdout and stderr are all the terminal, as for a person typing the command.
 */
export async function runOnTerminal(
  args: readonly string[],
  env: Record<string, string | undefined>,
  options: TerminalOptions = {},
): Promise<TerminalRun> {
  const columns = options.columns ?? 80;
  const rows = options.rows ?? 24;
  const bundle = await isolatedBundle();
  // script gives the child a terminal of its own; stty sets its size (script cannot).
  const command = `stty cols ${columns} rows ${rows} && exec ${[process.execPath, bundle, ...args].map(quote).join(" ")}`;
  const child = spawn("script", ["--quiet", "--flush", "--return", "--command", command, "/dev/null"], {
    cwd: path.dirname(bundle),
    env: { PATH: process.env.PATH, HOME: process.env.HOME, TERM: "xterm-256color", ...env },
    stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
  });
  // script passes its input to the terminal, where it waits until the program reads it.
  if (options.input !== undefined) child.stdin!.end(options.input);
  let raw = "";
  let errors = "";
  child.stdout!.setEncoding("utf8").on("data", (s: string) => (raw += s));
  child.stderr!.setEncoding("utf8").on("data", (s: string) => (errors += s));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", resolve);
  });
  if (errors) raw += errors; // script's own complaints (none expected) stay visible to the test
  return { code, raw, rows: await renderScreen(raw, columns, rows) };
}
