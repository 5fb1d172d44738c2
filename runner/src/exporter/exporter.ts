/**
 * `edms-backup exporter`: serves /metrics computed from what the destination holds, read again
 * every EXPORTER_REFRESH_SECONDS, the way pgbackrest_exporter reads `pgbackrest info`. Nothing is
 * pushed by the runs: a Pushgateway keeps the last value of a run that never came back, which hides
 * exactly the failures an alert is for. A scrape serves the last refresh and never touches the
 * destination, so Prometheus's scrape timeout cannot cut a slow listing short.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { collectDefaultMetrics, Counter, Gauge, Registry } from "prom-client";
import { EXPORTER_SOURCES, LAST_REFRESH_TIMESTAMP, REFRESH_DURATION, SCRAPE_ERRORS } from "../prometheus-names.js";
import { errorMessage } from "../errors.js";
import type { Logger } from "../output/logger.js";
import type { StatusSettings } from "../catalog/staleness.js";
import type { ObjectStore } from "../store/object-store.js";
import { exporterSources, type ExporterSource } from "./sources.js";

export interface ExporterOptions {
  store: ObjectStore;
  settings: StatusSettings;
  log: Logger;
  /** Clock, for tests. */
  now?: () => Date;
}

export class BackupExporter {
  readonly registry = new Registry();
  private readonly sources: ExporterSource[];
  private readonly errors: Counter;
  private readonly lastRefresh: Gauge;
  private readonly duration: Gauge;

  constructor(private readonly options: ExporterOptions) {
    this.sources = exporterSources(this.registry);
    this.errors = new Counter({
      name: SCRAPE_ERRORS,
      help: "Readings of the destination that failed, per source; the source's series keep their last values.",
      labelNames: ["source"],
      registers: [this.registry],
    });
    this.lastRefresh = new Gauge({
      name: LAST_REFRESH_TIMESTAMP,
      help: "When each source last read the destination successfully.",
      labelNames: ["source"],
      registers: [this.registry],
    });
    this.duration = new Gauge({
      name: REFRESH_DURATION,
      help: "How long the last reading of the destination took (every source).",
      registers: [this.registry],
    });
    // Zero from the start, so rate() and increase() see the first error as one.
    for (const source of EXPORTER_SOURCES) this.errors.inc({ source }, 0);
    // The exporter's own process (memory, CPU, file descriptors), prom-client's standard set.
    collectDefaultMetrics({ register: this.registry });
  }

  /** Reads every source once; a failing source is logged and counted, the others still refresh. */
  async refresh(): Promise<void> {
    const started = process.hrtime.bigint();
    const { store, settings, log } = this.options;
    for (const source of this.sources) {
      const now = this.options.now?.() ?? new Date();
      try {
        await source.refresh({ store, settings, now });
        this.lastRefresh.set({ source: source.name }, now.getTime() / 1000);
      } catch (error) {
        this.errors.inc({ source: source.name });
        log.warn(
          { stage: "exporter", source: source.name, problem: errorMessage(error) },
          `could not read ${source.name.replace(/_/g, " ")} at ${store.display}; its metrics keep their last values`,
        );
      }
    }
    this.duration.set(Number(process.hrtime.bigint() - started) / 1e9);
  }

  async metrics(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

/** HOST:PORT or [IPv6]:PORT (already validated by the contract). */
export function parseListen(value: string): { host: string; port: number } {
  const at = value.lastIndexOf(":");
  const host = value.slice(0, at).replace(/^\[|\]$/g, "");
  return { host: host || "0.0.0.0", port: Number(value.slice(at + 1)) };
}

/** Serves GET /metrics (and a pointer to it on /); anything else is 404, any other method 405. */
export function serveMetrics(exporter: BackupExporter, listen: { host: string; port: number }): Promise<Server> {
  const server = createServer((req, res) => {
    const url = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    if (url === "/metrics") {
      exporter.metrics().then(
        ({ contentType, body }) => res.writeHead(200, { "content-type": contentType }).end(body),
        (error: unknown) => res.writeHead(500, { "content-type": "text/plain" }).end(`${errorMessage(error)}\n`),
      );
      return;
    }
    if (url === "/") {
      res.writeHead(200, { "content-type": "text/plain; charset=utf-8" }).end("edms-backup exporter: see /metrics\n");
      return;
    }
    res.writeHead(404, { "content-type": "text/plain" }).end("not found; see /metrics\n");
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(listen.port, listen.host, () => {
      server.off("error", reject);
      resolve(server);
    });
  });
}

export function boundAddress(server: Server): string {
  const a = server.address() as AddressInfo;
  return a.family === "IPv6" ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}
