/**
 * Validates a stack's configuration without the Pulumi CLI, with the schema `pulumi up` uses:
 *   tsx scripts/check-config.ts --stack prod      (npm run check-config -- --stack prod)
 * Exit 0 when valid, 2 with every bad field listed, 1 when the files cannot be read.
 */
import * as path from "node:path";
import { parseArgs } from "node:util";
import { enabledTiers, parseStackConfig, projectConfig, StackConfigError } from "../components/stack-config.js";
import { readStackFile } from "../components/stack-file.js";

function main(): number {
  const { values } = parseArgs({
    options: { stack: { type: "string", short: "s", default: "prod" }, dir: { type: "string", default: "." } },
  });
  const stack = values.stack ?? "prod";
  const dir = path.resolve(values.dir ?? ".");
  let file;
  try {
    file = readStackFile(dir, stack);
  } catch (error) {
    console.error(
      `check-config: cannot read the stack files in ${dir}: ${error instanceof Error ? error.message : String(error)}`,
    );
    return 1;
  }
  try {
    const config = parseStackConfig(projectConfig(file.config, file.project));
    const tiers = enabledTiers(config).map((t) => `${t} "${config.schedules[t]}" keep ${config.retentionDays[t]}d`);
    console.log(`Pulumi.${stack}.yaml is valid.`);
    console.log(`  namespace ${config.namespace}, time zone ${config.timeZone}`);
    console.log(`  tiers: ${tiers.join("; ")}; adhoc keep ${config.retentionDays.adhoc}d`);
    console.log(`  identity ${config.identity.kind}, image ${config.image ?? "built from runner/Dockerfile"}`);
    console.log(`  object lock ${config.objectLock?.mode ?? "off"}, media ${config.media?.pvcName ?? "none"}`);
    if (file.secretKeys.length > 0) console.log(`  secrets present (not decrypted): ${file.secretKeys.join(", ")}`);
    return 0;
  } catch (error) {
    if (error instanceof StackConfigError) {
      console.error(`Pulumi.${stack}.yaml: ${error.message}`);
      return 2;
    }
    throw error;
  }
}

process.exitCode = main();
