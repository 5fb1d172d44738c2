#!/usr/bin/env node
import { main } from "./cli.js";
import { finalLine, finalLogFormat } from "./output/exit-line.js";

// The SDK's Node-version notice is printed on stderr outside the structured log stream; the
// runner's supported Node versions are pinned by its image and package.json instead.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const format = finalLogFormat(process.argv.slice(2), process.env, Boolean(process.stdout.isTTY));
    process.stderr.write(finalLine(format, { message: `unexpected failure: ${String(error)}`, exitCode: 1 }));
    process.exit(1);
  },
);
