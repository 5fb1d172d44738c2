/**
 * Runs index.ts under the mocks of stack-harness.ts and prints a summary as JSON: the program the
 * way `pulumi up` loads it (`node --import tsx`, Pulumi.yaml), from whatever checkout this file is
 * in. test/components/omit-dev.test.ts runs it from an install without devDependencies.
 * Usage: node --import tsx test/components/load-stack.ts <stack>
 */
import { runStack } from "./stack-harness.js";

runStack(process.argv[2] ?? "prod").then(
  (run) => {
    const image = run.resources.find((r) => r.type === "docker:index/image:Image");
    const summary = {
      resources: run.resources.map((r) => `${r.type} ${r.name}`).sort(),
      imageName: image?.inputs.imageName,
      imageBuild: image?.inputs.build,
      outputs: Object.keys(run.outputs).sort(),
    };
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  },
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
