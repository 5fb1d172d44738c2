/**
 * healthchecks.io-style dead-man's switch: GET <url>/start when a run starts, <url> when it
 * succeeds, <url>/fail when it fails. The service alerts when a success ping stops arriving, so
 * it also catches runs that never start (a deleted CronJob, a dead cluster).
 */
import type { Logger } from "../output/logger.js";
import { deliver, urlOrigin, type DeliveryOptions } from "./http-delivery.js";

export type PingEvent = "start" | "success" | "fail";

/** The ping URL for an event; the suffix goes on the path, so a query (e.g. ?rid=) survives. */
export function healthcheckPingUrl(base: string, event: PingEvent): string {
  if (event === "success") return base;
  const url = new URL(base);
  url.pathname = `${url.pathname.replace(/\/+$/, "")}/${event}`;
  return url.toString();
}

export async function pingHealthcheck(
  base: string,
  event: PingEvent,
  log: Logger,
  options?: DeliveryOptions,
): Promise<boolean> {
  const result = await deliver(healthcheckPingUrl(base, event), { method: "GET" }, options);
  const fields = { stage: "notify", target: "healthcheck", event, origin: urlOrigin(base), attempts: result.attempts };
  if (result.ok) log.debug(fields, "healthcheck pinged");
  else
    log.warn({ ...fields, problem: result.problem }, "healthcheck ping failed; the backup's own result is unaffected");
  return result.ok;
}
