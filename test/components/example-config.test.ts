// The repository's Pulumi.prod.yaml is an example (issue 26, item 5): its age recipients, account
// id and addresses belong to nobody deploying it. `pulumi up` (the real program under mocks) and
// `check-config` refuse each of them, naming it and what to put instead; `check-config` prints the
// encryption, identity and alert settings it validated; `check-config --help` prints its usage.
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ALLOW_EXAMPLE_ENV, EXAMPLE_RECIPIENTS } from "../../components/config/example-values.js";
import { stackConfigSchema } from "../../components/config/stack-config.js";
import { REPO_ROOT, runStack } from "./stack-harness.js";

const tsx = path.join(REPO_ROOT, "node_modules/.bin/tsx");
const script = path.join(REPO_ROOT, "scripts/check-config.ts");

function checkConfig(args: string[], env: Record<string, string | undefined> = {}) {
  const base = { ...process.env };
  delete base[ALLOW_EXAMPLE_ENV];
  return spawnSync(tsx, [script, ...args], { encoding: "utf8", env: { ...base, ...env } });
}

describe("the example values of Pulumi.prod.yaml", () => {
  it("check-config refuses each one (exit 2) and says what to put instead", () => {
    const result = checkConfig(["--stack", "prod", "--dir", REPO_ROOT]);
    expect(result.status, result.stdout).toBe(2);
    for (const recipient of EXAMPLE_RECIPIENTS)
      expect(readFileSync(path.join(REPO_ROOT, "Pulumi.prod.yaml"), "utf8")).toContain(recipient);
    expect(result.stderr).toMatch(/edms-backup:encryption\.recipients\[0\]: the example age recipient .*age-keygen/);
    expect(result.stderr).toMatch(/edms-backup:encryption\.recipients\[1\]: the example age recipient/);
    expect(result.stderr).toMatch(
      /edms-backup:identity\.oidcProviderArn: holds the example AWS account id 123456789012/,
    );
    expect(result.stderr).toMatch(/edms-backup:alertEmails\[0\]: ops@example\.com is an example address/);
  });

  it("with real values, check-config prints the encryption, identity and alert settings it validated", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "check-config-example-"));
    cpSync(path.join(REPO_ROOT, "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
    const mine = readFileSync(path.join(REPO_ROOT, "Pulumi.prod.yaml"), "utf8")
      .replaceAll("123456789012", "210987654321")
      .replaceAll("@example.com", "@edms.example.net.sg")
      .replace([...EXAMPLE_RECIPIENTS][0]!, "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p")
      .replace([...EXAMPLE_RECIPIENTS][1]!, "age1lggyhqrw2nlhcxprm67z43rta597azn8gknawjehu9d9dl0jq3yqqvfafg");
    writeFileSync(path.join(dir, "Pulumi.mine.yaml"), mine);
    const result = checkConfig(["--stack", "mine", "--dir", dir]);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain("Pulumi.mine.yaml is valid.");
    expect(result.stdout).toMatch(
      /encryption: age to 2 recipient\(s\): age1ql3z7.*private key in Secret edms-backup-age/,
    );
    expect(result.stdout).toMatch(/identity: IRSA, trusted OIDC provider arn:aws:iam::210987654321:oidc-provider/);
    expect(result.stdout).toMatch(
      /alerts: CloudWatch namespace EDMS\/Backup, alarms mailed to ops@edms\.example\.net\.sg/,
    );
    expect(result.stdout).toMatch(/restores as edms \(Secret edms-db-owner\)/);
    expect(result.stdout).toMatch(/deploy check: on \(pulumi up fails unless the identity Secret decrypts/);
  });

  it("check-config --help prints the usage (exit 0); an unknown flag is exit 2 with the usage, no stack trace", () => {
    const help = checkConfig(["--help"]);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^usage: npm run check-config -- \[--stack NAME\] \[--dir DIR\]/);
    const bad = checkConfig(["--stak", "prod"]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^check-config: Unknown option '--stak'/);
    expect(bad.stderr).not.toMatch(/\n\s+at /);
  });

  it("names every key of the stack config, set or commented out: it is the only example an operator has", () => {
    const example = readFileSync(path.join(REPO_ROOT, "Pulumi.prod.yaml"), "utf8");
    const unnamed = Object.keys(stackConfigSchema.shape).filter(
      (key) => !new RegExp(`edms-backup:${key}\\b`).test(example),
    );
    expect(unnamed).toEqual([]);
  });

  it("pulumi up (the program under mocks) refuses them too, naming each", async () => {
    delete process.env[ALLOW_EXAMPLE_ENV];
    await expect(runStack("prod")).rejects.toThrow(
      /edms-backup:encryption\.recipients\[0\]: the example age recipient/,
    );
  });
});
