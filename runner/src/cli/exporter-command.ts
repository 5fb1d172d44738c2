import type { Command } from "commander";
import { setTimeout as sleep } from "node:timers/promises";
import { DEFAULT_EXPORTER_LISTEN, DEFAULT_EXPORTER_REFRESH_SECONDS } from "../contract.js";
import { RunnerError, errorMessage } from "../errors.js";
import { BackupExporter, boundAddress, parseListen, serveMetrics } from "../exporter/exporter.js";
import { statusSettingsFromEnv } from "../catalog/staleness.js";
import { addDestinationOptions, openContext, signalController, type DestinationFlags } from "./shared.js";

interface ExporterFlags extends DestinationFlags {
  listen?: string;
  refreshSeconds?: string;
}

async function exporterAction(flags: ExporterFlags): Promise<void> {
  // Bad flags or environment end here with exit 2, before anything is read or bound.
  const { settings, store, log } = openContext(flags, {
    EXPORTER_LISTEN: flags.listen,
    EXPORTER_REFRESH_SECONDS: flags.refreshSeconds,
  });
  const listen = parseListen(settings.env.EXPORTER_LISTEN ?? DEFAULT_EXPORTER_LISTEN);
  const refreshMs = (settings.env.EXPORTER_REFRESH_SECONDS ?? DEFAULT_EXPORTER_REFRESH_SECONDS) * 1000;
  const exporter = new BackupExporter({ store, settings: statusSettingsFromEnv(settings.env), log });
  const signal = signalController().signal;
  // The first reading before the first scrape, so Prometheus never sees an empty exporter.
  await exporter.refresh();
  const server = await serveMetrics(exporter, listen).catch((error: unknown) => {
    throw new RunnerError(
      `could not listen on ${listen.host}:${listen.port}: ${errorMessage(error)}; choose another with --listen HOST:PORT (env EXPORTER_LISTEN)`,
    );
  });
  log.info(
    { stage: "exporter", listen: boundAddress(server), destination: store.display, refreshSeconds: refreshMs / 1000 },
    `serving /metrics on ${boundAddress(server)} from ${store.display}`,
  );
  try {
    for (;;) {
      await sleep(refreshMs, undefined, { signal });
      await exporter.refresh();
    }
  } catch (error) {
    if (!signal.aborted) throw error;
  } finally {
    server.closeAllConnections();
    server.close();
  }
  const name = String(signal.reason);
  throw new RunnerError(`exporter stopped by ${name}`, name === "SIGINT" ? 130 : 143);
}

export function registerExporterCommand(program: Command): void {
  addDestinationOptions(
    program
      .command("exporter")
      .description(
        "serve Prometheus metrics on /metrics, read from the destination every EXPORTER_REFRESH_SECONDS (staleness rules as `status`)",
      ),
  )
    .option("--listen <host:port>", `where to serve /metrics (env EXPORTER_LISTEN, default ${DEFAULT_EXPORTER_LISTEN})`)
    .option(
      "--refresh-seconds <n>",
      `seconds between readings of the destination (env EXPORTER_REFRESH_SECONDS, default ${DEFAULT_EXPORTER_REFRESH_SECONDS})`,
    )
    .action((flags: ExporterFlags) => exporterAction(flags));
}
