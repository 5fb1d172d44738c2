/**
 * Progress of a long transfer: a bar redrawn on a terminal (stderr), or a structured log line
 * every interval otherwise (Kubernetes logs), so a stuck run is visible either way.
 */
import { rate, type Logger } from "./logger.js";

export interface Progress {
  stop(): void;
}

export interface ProgressOptions {
  log: Logger;
  stage: string;
  /** Expected total bytes, when known. */
  total?: number;
  done: () => number;
  intervalMs: number;
  /** Draw a bar on this terminal instead of logging. */
  tty?: NodeJS.WriteStream;
}

function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

export function renderBar(done: number, total: number | undefined, bytesPerSecond: number, width = 30): string {
  if (!total) return `${mb(done)} ${mb(bytesPerSecond)}/s`;
  const ratio = Math.min(1, done / total);
  const filled = Math.round(ratio * width);
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${(ratio * 100).toFixed(0).padStart(3)}% ${mb(done)}/${mb(total)} ${mb(bytesPerSecond)}/s`;
}

export function startProgress(options: ProgressOptions): Progress {
  const started = Date.now();
  const tick = () => {
    const done = options.done();
    const elapsed = Date.now() - started;
    if (options.tty) options.tty.write(`\r${options.stage} ${renderBar(done, options.total, rate(done, elapsed))}`);
    else
      options.log.info(
        { stage: options.stage, bytes: done, total: options.total, rate: rate(done, elapsed) },
        "progress",
      );
  };
  const timer = setInterval(tick, options.tty ? 250 : options.intervalMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      if (options.tty) {
        tick();
        options.tty.write("\n");
      }
    },
  };
}
