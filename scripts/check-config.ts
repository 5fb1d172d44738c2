/**
 * Validates a stack's configuration without the Pulumi CLI, with the schema `pulumi up` uses:
 *   tsx scripts/check-config.ts --stack prod      (npm run check-config -- --stack prod)
 * Exit 0 when valid, 2 with every bad field listed (example values included), 1 when the files
 * cannot be read. On success it prints what it validated: the settings that decide whether
 * backups can be restored and whether anyone hears of a failure (encryption, identity, alerts).
 */
import * as path from "node:path";
import { parseArgs } from "node:util";
import { examplePlaceholders, examplesAllowed } from "../components/config/example-values.js";
import {
  enabledTiers,
  parseStackConfig,
  projectConfig,
  StackConfigError,
  type StackConfig,
} from "../components/config/stack-config.js";
import { readStackFile } from "../components/config/stack-file.js";
import { isScheduledTier, TIERS } from "../runner/src/contract.js";

const USAGE = `usage: npm run check-config -- [--stack NAME] [--dir DIR]
  Validates Pulumi.<NAME>.yaml (default prod) in DIR (default .) with the schema pulumi up uses.
  Exit 0 valid (the validated settings are printed), 2 bad fields (each named), 1 unreadable files.`;

/** What was validated, for a person to check against what they meant. */
function summary(config: StackConfig): string[] {
  const tiers = enabledTiers(config).map((t) => `${t} "${config.schedules[t]}" keep ${config.retentionDays[t]}d`);
  const byHand = TIERS.filter((t) => !isScheduledTier(t)).map((t) => `${t} keep ${config.retentionDays[t]}d`);
  const identity =
    config.identity.kind === "irsa"
      ? `IRSA, trusted OIDC provider ${config.identity.oidcProviderArn}`
      : `EKS Pod Identity, cluster ${config.identity.clusterName}`;
  const encryption = config.encryption
    ? `age to ${config.encryption.recipients.length} recipient(s): ${config.encryption.recipients.join(", ")}; ` +
      (config.encryption.identitySecret
        ? `private key in Secret ${config.encryption.identitySecret.name} (key ${config.encryption.identitySecret.key}), mounted by the drill and the restore Jobs`
        : "no identity Secret: drills and in-cluster restores cannot decrypt")
    : "off (S3's SSE-KMS only)";
  const alerts = config.cloudwatchNamespace
    ? `CloudWatch namespace ${config.cloudwatchNamespace}, alarms mailed to ${config.alertEmails.length ? config.alertEmails.join(", ") : "nobody (no alertEmails: subscribe to the topic yourself)"}, grace ${config.alerts.graceHours} h`
    : "off (no cloudwatchNamespace: no metrics, no alarms)";
  const restoreRole = config.database.restoreRole
    ? `${config.database.restoreRole.user} (Secret ${config.database.restoreRole.secretName})`
    : `${config.database.user} (the backup role: set database.restoreRole, docs/DEPLOY.md "Database roles")`;
  return [
    `  namespace ${config.namespace}, time zone ${config.timeZone}`,
    `  tiers: ${[...tiers, ...byHand].join("; ")}`,
    `  database ${config.database.name} on ${config.database.host}: backups as ${config.database.user} (Secret ${config.database.secretName}), restores as ${restoreRole}`,
    `  encryption: ${encryption}`,
    `  identity: ${identity}; image ${config.image ?? "built from runner/Dockerfile"}`,
    `  alerts: ${alerts}`,
    `  object lock ${config.objectLock?.mode ?? "off"}, media ${config.media?.pvcName ?? "none"}`,
    `  deploy check: ${config.deployCheck ? "on (pulumi up fails unless the identity Secret decrypts what the recipients encrypt and the restore role can restore)" : "off (deployCheck: false)"}`,
  ];
}

function main(argv: string[]): number {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        stack: { type: "string", short: "s", default: "prod" },
        dir: { type: "string", default: "." },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    console.error(`check-config: ${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
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
    const raw = projectConfig(file.config, file.project);
    const config = parseStackConfig(raw);
    const examples = examplesAllowed() ? [] : examplePlaceholders(raw, file.project);
    if (examples.length) throw new StackConfigError(examples);
    console.log(`Pulumi.${stack}.yaml is valid.`);
    for (const line of summary(config)) console.log(line);
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

process.exitCode = main(process.argv.slice(2));
