/**
 * One HTTP request with a per-attempt timeout and a few retries with backoff, for notifications.
 * It never throws: a notification that cannot be delivered must not fail a good backup, so the
 * caller gets a verdict to log. Only the URL's origin is ever reported, because healthcheck and
 * webhook URLs carry their token in the path or the query.
 */
import { errorMessage } from "../errors.js";

export interface DeliveryOptions {
  /** Attempts in total (default 3). */
  tries?: number;
  /** Per-attempt timeout (default 5 s). */
  timeoutMs?: number;
  /** First pause between attempts, doubled each time (default 500 ms). */
  backoffMs?: number;
}

export interface DeliveryResult {
  ok: boolean;
  attempts: number;
  /** HTTP status of the last attempt, when there was a response. */
  status?: number;
  /** Why the last attempt failed (no URL in it). */
  problem?: string;
}

/** scheme://host[:port] only: safe to log. */
export function urlOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return "(invalid URL)";
  }
}

/** Strips the URL from an error text, as fetch errors can quote it. */
function scrub(text: string, url: string): string {
  return text.split(url).join(urlOrigin(url));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Retries network errors, timeouts, 408, 429 and 5xx; other 4xx answers are final. */
function retryable(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

export async function deliver(
  url: string,
  init: { method: "GET" | "POST"; body?: string; headers?: Record<string, string> },
  options: DeliveryOptions = {},
): Promise<DeliveryResult> {
  const tries = options.tries ?? 3;
  const timeoutMs = options.timeoutMs ?? 5_000;
  const backoffMs = options.backoffMs ?? 500;
  let last: DeliveryResult = { ok: false, attempts: 0 };
  for (let attempt = 1; attempt <= tries; attempt++) {
    try {
      const response = await fetch(url, { ...init, redirect: "follow", signal: AbortSignal.timeout(timeoutMs) });
      // Drain the body so the connection is released; its content does not matter.
      await response.arrayBuffer().catch(() => undefined);
      if (response.ok) return { ok: true, attempts: attempt, status: response.status };
      last = { ok: false, attempts: attempt, status: response.status, problem: `HTTP ${response.status}` };
      if (!retryable(response.status)) return last;
    } catch (error) {
      const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : "";
      last = { ok: false, attempts: attempt, problem: scrub(`${errorMessage(error)}${cause}`, url) };
    }
    if (attempt < tries) await sleep(backoffMs * 2 ** (attempt - 1));
  }
  return last;
}
