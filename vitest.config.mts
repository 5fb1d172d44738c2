import { configDefaults, defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The image test needs podman and minutes: `npm run test:image` (test/image/vitest.config.mts).
    exclude: [...configDefaults.exclude, "test/image/**"],
    globalSetup: ["test/helpers/global-setup.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Integration tests share one PostgreSQL cluster and one moto_server; each test uses its own
    // database and bucket, so files can run in parallel, but 2 cores limit how many help.
    maxWorkers: 2,
    // The test helpers' own S3 clients would print the SDK's Node-version notice in every worker.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
  },
});
