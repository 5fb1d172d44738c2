/**
 * The repository's Pulumi.prod.yaml is a complete, tested example, and its values are examples:
 * age recipients nobody deploying this stack holds the keys of, AWS's documentation account id,
 * example.com addresses. Deployed as they are, backups would be encrypted to someone else's keys
 * and alarms mailed to nobody, and nothing would fail until the first drill. So `pulumi up` and
 * `check-config` refuse them, naming each with what to put instead. The tests render the example
 * on purpose and say so with EDMS_BACKUP_EXAMPLE_CONFIG=allow.
 */

/** The recipients of the shipped example (their private keys are not in this repository). */
export const EXAMPLE_RECIPIENTS: ReadonlySet<string> = new Set([
  "age1pt4p99lfcw6gqvjmkgf32dk4y3kyvj4xcqxkpk6ggsxs9dtfk55s4jxt2n",
  "age12v8jtyxf5z3pa6smggrxt859v8e7c9xltyrs3wues7jejpnd7qrstrz57l",
]);

/** The account id AWS's own documentation uses. */
export const EXAMPLE_ACCOUNT = "123456789012";

export const ALLOW_EXAMPLE_ENV = "EDMS_BACKUP_EXAMPLE_CONFIG";

const EXAMPLE_DOMAIN = /@example\.(com|org|net)$/i;

/** Every example value in a stack's config (keys as `edms-backup:a.b[0]`), with what to do. */
export function examplePlaceholders(config: Record<string, unknown>, project = "edms-backup"): string[] {
  const problems: string[] = [];
  const walk = (value: unknown, where: string) => {
    if (Array.isArray(value)) value.forEach((v, i) => walk(v, `${where}[${i}]`));
    else if (value && typeof value === "object")
      for (const [k, v] of Object.entries(value)) walk(v, where ? `${where}.${k}` : `${project}:${k}`);
    else if (typeof value === "string") {
      if (EXAMPLE_RECIPIENTS.has(value))
        problems.push(
          `${where}: the example age recipient of the repository's Pulumi.prod.yaml; nobody here holds its private key, so no backup encrypted to it could be restored: put your own (age-keygen -o edms-backup-age.txt prints it; docs/DEPLOY.md, "Encryption")`,
        );
      else if (value.includes(EXAMPLE_ACCOUNT))
        problems.push(
          `${where}: holds the example AWS account id ${EXAMPLE_ACCOUNT}: put your own (aws sts get-caller-identity; for the OIDC provider: aws eks describe-cluster --name <cluster> --query cluster.identity.oidc.issuer)`,
        );
      else if (EXAMPLE_DOMAIN.test(value))
        problems.push(
          `${where}: ${value} is an example address nobody reads: put the address of whoever answers alarms`,
        );
    }
  };
  for (const [key, value] of Object.entries(config)) walk(value, `${project}:${key}`);
  return problems;
}

/** Whether example values are allowed in this process (the tests render the example). */
export function examplesAllowed(env: NodeJS.ProcessEnv = process.env): boolean {
  return env[ALLOW_EXAMPLE_ENV] === "allow";
}
