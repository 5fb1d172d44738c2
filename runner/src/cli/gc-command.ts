import type { Command } from "commander";
import { renderGcReport, runGc, type GcReport } from "../commands/gc.js";
import { confirmOrRefuse } from "../output/confirm.js";
import { DEFAULT_STORE_GC_GRACE_HOURS, STORE_GC_COMMAND } from "../contract.js";
import { openIdentity, loadIdentity, type OpenIdentity } from "../encryption/identity.js";
import { ConfigError, errorMessage } from "../errors.js";
import type { Logger } from "../output/logger.js";
import { DIMENSION_APP, METRIC_GC_SUCCEEDED } from "../metric-names.js";
import { putMetrics } from "../notify/metrics.js";
import { decryptStream } from "../stages/age-decrypt.js";
import type { ObjectStore } from "../store/object-store.js";
import { addDestinationOptions, openContext, printOut, type DestinationFlags } from "./shared.js";

interface GcFlags extends DestinationFlags {
  dryRun?: boolean;
  yes?: boolean;
  json?: boolean;
}

/** GcSucceeded 1/0 for the gc alarm; a metrics failure is a warning, never the run's result. */
async function publishGcResult(namespace: string, app: string, ok: boolean, log: Logger): Promise<void> {
  try {
    await putMetrics(namespace, [
      {
        MetricName: METRIC_GC_SUCCEEDED,
        Dimensions: [{ Name: DIMENSION_APP, Value: app }],
        Timestamp: new Date(),
        Value: ok ? 1 : 0,
        Unit: "Count",
      },
    ]);
  } catch (error) {
    log.warn(
      { stage: "metrics", problem: errorMessage(error) },
      "could not publish GcSucceeded; gc's own result stands",
    );
  }
}

/** gc with the identity open (for encrypted indexes of sets written before object lists). */
async function gcWith(
  store: ObjectStore,
  identity: OpenIdentity | undefined,
  options: { graceHours: number; dryRun: boolean; log: Logger },
): Promise<GcReport> {
  return runGc(store, { ...options, decrypt: identity && ((input) => decryptStream(input, identity.file)) });
}

async function gcAction(flags: GcFlags): Promise<void> {
  const { settings, store, log } = openContext(flags, {}, { logToStderr: true });
  const problems: string[] = [];
  const identitySettings = loadIdentity(settings.env, problems);
  if (problems.length) throw new ConfigError(problems);
  const graceHours = settings.env.MEDIA_STORE_GC_GRACE_HOURS ?? DEFAULT_STORE_GC_GRACE_HOURS;
  const dryRun = flags.dryRun ?? false;
  const namespace = dryRun ? undefined : settings.env.CLOUDWATCH_NAMESPACE;
  const identity = identitySettings ? await openIdentity(identitySettings) : undefined;
  try {
    if (!dryRun) {
      // On a terminal, say what would go before asking; without one, --yes must say it up front.
      const plan =
        flags.yes || !process.stdin.isTTY
          ? undefined
          : await gcWith(store, identity, { graceHours, dryRun: true, log });
      await confirmOrRefuse(
        plan
          ? `Delete ${plan.wouldDelete.length} unreferenced content objects from ${store.display} (run with --dry-run to list them)?`
          : `Delete unreferenced content objects from ${store.display}?`,
        Boolean(flags.yes),
      );
    }
    const report = await gcWith(store, identity, { graceHours, dryRun, log });
    if (namespace) await publishGcResult(namespace, settings.appName, true, log);
    printOut(flags.json ? JSON.stringify(report, null, 2) : renderGcReport(report));
  } catch (error) {
    // A refusal for want of --yes is bad input, not a failed gc; anything else is a failed run.
    if (namespace && !(error instanceof ConfigError)) await publishGcResult(namespace, settings.appName, false, log);
    throw error;
  } finally {
    await identity?.close();
  }
}

export function registerGcCommand(program: Command): void {
  addDestinationOptions(
    program
      .command(STORE_GC_COMMAND)
      .description(
        "delete content objects of the media store (MEDIA_FORMAT=store) that no set references, once unreferenced for " +
          `MEDIA_STORE_GC_GRACE_HOURS (default ${DEFAULT_STORE_GC_GRACE_HOURS}) as seen by an earlier gc run; never an object under Object Lock`,
      ),
  )
    .option("--dry-run", "print what would be deleted; change nothing")
    .option("--yes", "delete without asking (required without a terminal)")
    .option("--json", "print one JSON object instead of lines")
    .action((flags: GcFlags) => gcAction(flags));
}
