// Bundles the runner into one CommonJS file that runs with plain `node` and no node_modules
// beside it (the image copies only this file).
import { build } from "esbuild";
import { readFileSync } from "node:fs";

const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));

await build({
  entryPoints: ["runner/src/main.ts"],
  outfile: "dist/edms-backup.cjs",
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  minify: false,
  sourcemap: false,
  legalComments: "none",
  define: { __RUNNER_VERSION__: JSON.stringify(pkg.version) },
  // pg's optional native binding is never used; the SDK's optional CRT signer neither.
  external: ["pg-native", "@aws-sdk/signature-v4-crt"],
  logLevel: "warning",
});
