/**
 * Reads a stack's configuration straight from Pulumi.yaml and Pulumi.<stack>.yaml, without the
 * Pulumi CLI: for `check-config` and for the tests that run index.ts with the real prod values.
 * Secure values (`{ secure: ... }`) cannot be decrypted without the CLI; they count as present.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { load } from "js-yaml";

export const SECRET_PLACEHOLDER = "<secret>";

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function readYaml(file: string): Record<string, unknown> {
  const parsed = load(readFileSync(file, "utf8"), { filename: file });
  if (!isRecord(parsed)) throw new Error(`${file} is not a YAML mapping`);
  return parsed;
}

function reveal(value: unknown): unknown {
  if (isRecord(value)) {
    if (Object.keys(value).length === 1 && typeof value.secure === "string") return SECRET_PLACEHOLDER;
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, reveal(v)]));
  }
  if (Array.isArray(value)) return value.map(reveal);
  return value;
}

export interface StackFile {
  project: string;
  /** Flat `{ "<namespace>:<key>": value }`, project defaults overlaid by the stack's values. */
  config: Record<string, unknown>;
  /** Keys whose value is a Pulumi secret. */
  secretKeys: string[];
}

export function readStackFile(projectDir: string, stack: string): StackFile {
  const projectFile = readYaml(path.join(projectDir, "Pulumi.yaml"));
  const project = String(projectFile.name);
  const config: Record<string, unknown> = {};
  const secretKeys: string[] = [];
  const qualify = (key: string) => (key.includes(":") ? key : `${project}:${key}`);

  if (isRecord(projectFile.config)) {
    for (const [key, declared] of Object.entries(projectFile.config)) {
      // Project-level config is either a plain value or { value | default, type, description }.
      const value =
        isRecord(declared) && ("value" in declared || "default" in declared)
          ? (declared.value ?? declared.default)
          : declared;
      if (value !== undefined) config[qualify(key)] = value;
    }
  }
  const stackFile = readYaml(path.join(projectDir, `Pulumi.${stack}.yaml`));
  if (isRecord(stackFile.config)) {
    for (const [key, value] of Object.entries(stackFile.config)) {
      const revealed = reveal(value);
      if (JSON.stringify(revealed).includes(SECRET_PLACEHOLDER)) secretKeys.push(qualify(key));
      config[qualify(key)] = revealed;
    }
  }
  return { project, config, secretKeys };
}

/** The string map `pulumi.runtime.setAllConfig` takes: structured values as JSON, like the CLI. */
export function asPulumiConfig(config: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(config).map(([key, value]) => [key, typeof value === "string" ? value : JSON.stringify(value)]),
  );
}
