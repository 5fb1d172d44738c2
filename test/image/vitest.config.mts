// `npm run test:image`: builds the runner image with podman and runs it as the CronJobs do
// (test/image/runner-image.test.ts). Separate from `npm test`: it needs podman and root, and takes
// minutes; .ci/run runs both.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  // The repository, not this folder: paths in the test and the harness are relative to it.
  root: fileURLToPath(new URL("../..", import.meta.url)),
  test: {
    include: ["test/image/**/*.test.ts"],
    globalSetup: ["test/helpers/global-setup.ts"],
    testTimeout: 300_000,
    hookTimeout: 900_000,
    // One file; its pods run one after another (each stage builds on the previous backup).
    maxWorkers: 1,
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
  },
});
