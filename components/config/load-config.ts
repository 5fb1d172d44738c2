/**
 * The stack config as `pulumi up` reads it: validated once, the example values refused, and any
 * problem turned into a RunError (printed without a stack trace: the message is the whole story).
 */
import * as pulumi from "@pulumi/pulumi";
import { examplePlaceholders, examplesAllowed } from "./example-values.js";
import { parseStackConfig, projectConfig, StackConfigError, type StackConfig } from "./stack-config.js";

export function loadConfig(): StackConfig {
  try {
    const raw = projectConfig(pulumi.runtime.allConfig(), pulumi.getProject());
    const config = parseStackConfig(raw);
    // The repository's example values deploy backups nobody can decrypt: refused (example-values.ts).
    const examples = examplesAllowed() ? [] : examplePlaceholders(raw, pulumi.getProject());
    if (examples.length) throw new StackConfigError(examples);
    return config;
  } catch (error) {
    if (error instanceof StackConfigError) throw new pulumi.RunError(error.message);
    throw error;
  }
}
