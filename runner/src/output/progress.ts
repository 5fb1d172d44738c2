/**
 * Progress of the long streams of a run, one line per stream (database, media) with its stage,
 * bytes, rate and elapsed time. On a terminal the lines form a live area at the bottom of the
 * screen, redrawn in place, and every log line is printed above it (clear the area, print, redraw),
 * so the two never share a row. Off a terminal there is no area: a structured log line per stream
 * every interval (Kubernetes logs), so a stuck run is visible either way.
 *
 * Hand-written rather than log-update or cli-progress: the area is a few lines that are cut to
 * the terminal's width (so none ever wraps), which makes redrawing "cursor up, clear to the end of
 * the screen, write"; log-update would add six packages to the single-file bundle for that, and
 * cli-progress's MultiBar holds log lines back until its next redraw.
 */
import { formatBytes, formatDuration, formatRate } from "./format.js";
import { rate, type Logger } from "./logger.js";

const ESC = "\u001b[";

/** Cuts `text` to `width` characters (the area's lines are plain ASCII-and-text, no escapes). */
export function fitWidth(text: string, width: number): string {
  const chars = [...text];
  if (chars.length <= width) return text;
  return width <= 1 ? chars.slice(0, Math.max(0, width)).join("") : `${chars.slice(0, width - 1).join("")}…`;
}

/** A few lines at the bottom of a terminal, redrawn in place; text printed through it goes above. */
export class LiveArea {
  private lines: string[] = [];
  /** Rows of the area currently on the screen; the cursor is at the end of the last one. */
  private drawn = 0;
  private exitHook: (() => void) | undefined;

  constructor(readonly tty: NodeJS.WriteStream) {}

  /** Replaces the area's lines; each is cut one short of the width so the cursor never wraps. */
  update(lines: readonly string[]): void {
    // A process that exits abruptly (a second Ctrl-C) still leaves the prompt on a line of its own.
    if (!this.exitHook) process.once("exit", (this.exitHook = () => this.release()));
    const width = Math.max(20, (this.tty.columns || 80) - 1);
    this.lines = lines.map((line) => fitWidth(line, width));
    this.tty.write(this.erase() + this.lines.join("\n"));
    this.drawn = this.lines.length;
  }

  /** Prints `text` (whole lines) on `out` above the area: clear the area, print, redraw. */
  printAbove(text: string, out: NodeJS.WritableStream = this.tty): void {
    if (this.drawn) this.tty.write(this.erase());
    this.drawn = 0;
    out.write(text.endsWith("\n") ? text : `${text}\n`);
    if (this.lines.length) {
      this.tty.write(this.lines.join("\n"));
      this.drawn = this.lines.length;
    }
  }

  /** Leaves the last frame on the screen as ordinary lines; later text prints below it. */
  release(): void {
    if (this.exitHook) process.removeListener("exit", this.exitHook);
    this.exitHook = undefined;
    if (this.drawn) this.tty.write("\n");
    this.drawn = 0;
    this.lines = [];
  }

  private erase(): string {
    if (!this.drawn) return "";
    return `\r${this.drawn > 1 ? `${ESC}${this.drawn - 1}A` : ""}${ESC}J`;
  }
}

/**
 * The live area for `stream`, or undefined when it is not a terminal that can move its cursor
 * (a pipe, a file, Kubernetes, TERM=dumb): then progress goes to the log instead.
 */
export function openLiveArea(
  stream: NodeJS.WriteStream = process.stderr,
  env: NodeJS.ProcessEnv = process.env,
): LiveArea | undefined {
  return stream.isTTY && env.TERM !== "dumb" ? new LiveArea(stream) : undefined;
}

export interface LineState {
  name: string;
  stage: string;
  done: number;
  total?: number;
  elapsedMs: number;
}

/**
 * One progress line: name, stage, a bar when the total is known, bytes, rate, elapsed. The columns
 * have fixed widths, so the lines of one area line up and their bars have the same length.
 */
export function renderLine(s: LineState, width: number): string {
  const head = `${s.name.padEnd(8)} ${s.stage.padEnd(10)}`;
  const bytes = s.total ? `${formatBytes(s.done)}/${formatBytes(s.total)}` : formatBytes(s.done);
  const numbers = `${bytes.padStart(s.total ? 21 : 10)} ${formatRate(rate(s.done, s.elapsedMs)).padStart(11)} ${formatDuration(s.elapsedMs / 1000).padStart(6)}`;
  if (!s.total) return fitWidth(`${head} ${numbers}`, width);
  const ratio = Math.min(1, s.done / s.total);
  const tail = `${(ratio * 100).toFixed(0).padStart(3)}% ${numbers}`;
  const room = width - head.length - tail.length - 4; // the spaces and brackets around the bar
  if (room < 6) return fitWidth(`${head} ${tail}`, width);
  const barWidth = Math.min(30, room);
  const filled = Math.round(ratio * barWidth);
  return `${head} [${"#".repeat(filled)}${"-".repeat(barWidth - filled)}] ${tail}`;
}

export interface TrackedLine {
  /** The byte counter to show (a stream's meter), once the stream exists. */
  follow(counter: { readonly bytes: number }): void;
  /** Freezes the line (elapsed time stops) under its final stage, e.g. "stored" or "verified". */
  finish(stage: string): void;
}

export interface Progress {
  track(name: string, options: { stage: string; total?: number }): TrackedLine;
  /** Draws (or logs) the final state once and stops; the area's last frame stays on the screen. */
  stop(): void;
}

export interface ProgressOptions {
  log: Logger;
  /** Period of the log lines off a terminal. */
  intervalMs: number;
  /** Draw on this terminal instead of logging. */
  area?: LiveArea;
  /** Redraw period on a terminal (default 100 ms: smooth, and two short lines cost a terminal nothing). */
  redrawMs?: number;
  now?: () => number;
}

export function startProgress(options: ProgressOptions): Progress {
  const now = options.now ?? Date.now;
  const lines: Array<{
    name: string;
    stage: string;
    total?: number;
    started: number;
    finished?: number;
    counter?: { readonly bytes: number };
  }> = [];
  const state = (l: (typeof lines)[number]): LineState => ({
    name: l.name,
    stage: l.stage,
    done: l.counter?.bytes ?? 0,
    total: l.total,
    elapsedMs: (l.finished ?? now()) - l.started,
  });
  const { area } = options;
  const tick = () => {
    if (area) {
      const width = Math.max(20, (area.tty.columns || 80) - 1);
      area.update(lines.map((l) => renderLine(state(l), width)));
      return;
    }
    for (const l of lines) {
      if (l.finished !== undefined) continue;
      const s = state(l);
      options.log.info(
        { stage: s.name, step: s.stage, bytes: s.done, total: s.total, rate: rate(s.done, s.elapsedMs) },
        "progress",
      );
    }
  };
  const timer = setInterval(tick, area ? (options.redrawMs ?? 100) : options.intervalMs);
  timer.unref();
  return {
    track(name, { stage, total }) {
      const line: (typeof lines)[number] = { name, stage, total, started: now() };
      lines.push(line);
      return {
        follow: (counter) => (line.counter = counter),
        finish: (final) => {
          line.finished ??= now();
          line.stage = final;
        },
      };
    },
    stop() {
      clearInterval(timer);
      if (area && lines.length) {
        tick();
        area.release();
      }
    },
  };
}
