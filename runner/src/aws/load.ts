/**
 * The AWS SDK, loaded on first use: file:// runs, restores and drills from a folder never pay for
 * it. Under tsx and vitest that is a dynamic import of ./sdk.js. The bundle carries the SDK's
 * module as its own bundle in a string (components/image/runner-bundle.ts defines
 * __AWS_SDK_CHUNK__), compiled here on first use: Node 20 parses a whole CommonJS file before
 * running any of it, and the SDK is about half of the runner's code, so as code every command
 * (a file:// backup, a restore, even --version) would pay for parsing it; as a string literal it
 * costs a scan for the closing quote. Node 22's module.enableCompileCache, or esbuild's code
 * splitting (ESM output only), would do this without code of our own; neither is available to a
 * CommonJS bundle on Node 20.
 */
import { compileFunction } from "node:vm";

export type AwsSdk = typeof import("./sdk.js");

declare const __AWS_SDK_CHUNK__: string | undefined;

let loading: Promise<AwsSdk> | undefined;

export function loadAwsSdk(): Promise<AwsSdk> {
  // esbuild folds the condition, so the bundle holds only one branch (and ./sdk.js only as a string).
  loading ??=
    typeof __AWS_SDK_CHUNK__ === "string" ? Promise.resolve(compileChunk(__AWS_SDK_CHUNK__)) : import("./sdk.js");
  return loading;
}

/** Runs a CommonJS bundle as Node's loader would run a file of it, with the runner's require. */
function compileChunk(source: string): AwsSdk {
  const chunk = { exports: {} as AwsSdk };
  const run = compileFunction(source, ["exports", "require", "module", "__filename", "__dirname"], {
    filename: `${__filename}#aws-sdk`,
  });
  run(chunk.exports, require, chunk, __filename, __dirname);
  return chunk.exports;
}
