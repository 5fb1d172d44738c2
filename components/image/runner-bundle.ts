/**
 * The runner bundled into one CommonJS file that runs with plain `node` and no node_modules beside
 * it. One definition for `npm run build` (dist/edms-backup.cjs, what the tests run) and for the
 * Pulumi program, which bundles in memory so the image never ships a stale `dist/`.
 */
import { buildSync, type BuildOptions } from "esbuild";
import { readFileSync } from "node:fs";
import path from "node:path";

export const BUNDLE_ENTRY = "runner/src/main.ts";
/** The AWS SDK's module: bundled on its own and carried in the runner's bundle as a string (runner/src/aws/load.ts). */
export const AWS_SDK_ENTRY = "runner/src/aws/sdk.ts";

function options(repoRoot: string): BuildOptions {
  const pkg = JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8")) as { version: string };
  return {
    // Paths in the bundle's comments are relative to this, so the bytes do not depend on where the
    // repository is checked out (the image tag hashes them).
    absWorkingDir: path.resolve(repoRoot),
    // ...and so are the node_modules paths, even when node_modules is a symlink (a shared or cached
    // install): npm itself installs no symlinks, so no package can be bundled twice by this.
    preserveSymlinks: true,
    bundle: true,
    platform: "node",
    target: "node20",
    format: "cjs",
    // Whitespace and syntax only, names kept (stack traces stay readable). Dropping the comments
    // also keeps the file ASCII: one non-ASCII byte makes V8 hold and scan the whole source as
    // UTF-16 (BENCHMARKS.md, start-up).
    minifyWhitespace: true,
    minifySyntax: true,
    sourcemap: false,
    legalComments: "none",
    define: { __RUNNER_VERSION__: JSON.stringify(pkg.version) },
    // pg's optional native binding is never used; the SDK's optional CRT signer neither.
    external: ["pg-native", "@aws-sdk/signature-v4-crt"],
    logLevel: "warning",
  };
}

function build(repoRoot: string, entry: string, define: Record<string, string> = {}): string {
  const base = options(repoRoot);
  const result = buildSync({
    ...base,
    entryPoints: [entry],
    define: { ...base.define, ...define },
    write: false,
    outfile: "edms-backup.cjs",
  });
  const file = result.outputFiles?.[0];
  if (!file) throw new Error(`esbuild produced no bundle for ${entry}`);
  return file.text;
}

/** The bundle's bytes, built from the sources and node_modules under `repoRoot`. */
export function bundleRunner(repoRoot: string): Buffer {
  const sdk = build(repoRoot, AWS_SDK_ENTRY);
  return Buffer.from(build(repoRoot, BUNDLE_ENTRY, { __AWS_SDK_CHUNK__: JSON.stringify(sdk) }));
}
