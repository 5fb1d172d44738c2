// A copy of this checkout's working tree (sources, docs, stack files: what a deployer has) in a
// temporary folder, for tests that edit files or install packages without touching the checkout.
import { cpSync, mkdtempSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

export const REPO_ROOT = path.resolve(__dirname, "../..");
// Built or installed, never sources: a deployer's checkout may or may not have them.
const NOT_COPIED = new Set(["node_modules", "dist", ".git", ".demo", ".bench"]);

/** `nodeModules: "link"` shares this checkout's node_modules; "none" leaves the copy without any. */
export function scratchTree(prefix: string, nodeModules: "link" | "none"): string {
  const dir = mkdtempSync(path.join(tmpdir(), `${prefix}-`));
  cpSync(REPO_ROOT, dir, { recursive: true, filter: (src) => !NOT_COPIED.has(path.basename(src)) });
  if (nodeModules === "link") symlinkSync(path.join(REPO_ROOT, "node_modules"), path.join(dir, "node_modules"));
  return dir;
}
