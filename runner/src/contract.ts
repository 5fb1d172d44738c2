/**
 * The contract between whatever starts the runner (a Kubernetes CronJob, a shell, the demo) and the
 * runner itself: environment variable names, their meaning and their validation. It is the single
 * source of truth: the Pulumi components build CronJob environments typed by `RunnerEnv`, and the
 * runner parses its environment with `runnerEnvSchema`, so renaming a variable on one side fails the
 * type check on the other.
 *
 * This file must stay free of runtime dependencies other than zod: the Pulumi program imports it.
 *
 * One import point: the parts live in contract/ by purpose (tiers, env, compression, media
 * references, object names, copy names), each importing nothing but zod and each other.
 */
export * from "./contract/tiers.js";
export * from "./contract/env.js";
export * from "./contract/compression.js";
export * from "./contract/media-references.js";
export * from "./contract/object-names.js";
export * from "./contract/copy-names.js";
