/**
 * `pulumi up` runs index.ts with `node --import tsx` (Pulumi.yaml) from the deployer's install, and
 * a production install has no devDependencies. So everything the program loads at run time (tsx,
 * esbuild for the runner bundle, the Pulumi SDKs, zod, ...) must be a dependency: installed with
 * `npm ci --omit=dev` into a scratch copy of the tree, the program must load and declare the same
 * stack, with the same image tag, as it does from this checkout.
 */
import { existsSync, rmSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { run } from "../helpers/exec.js";
import { REPO_ROOT, scratchTree } from "../helpers/scratch-tree.js";

let scratch: string | undefined;

// Removing a production node_modules takes minutes on a busy 2-core machine.
afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
}, 600_000);

async function loadStack(root: string): Promise<Record<string, unknown>> {
  // Exactly Pulumi.yaml's runtime options: plain node, TypeScript through `--import tsx`.
  const r = await run(process.execPath, ["--import", "tsx", "test/components/load-stack.ts", "prod"], {
    cwd: root,
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
  });
  if (r.code !== 0) throw new Error(`the program did not load from ${root} (exit ${r.code ?? r.signal}):\n${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

describe("a production install (npm ci --omit=dev)", () => {
  it("runs the Pulumi program under mocks and declares what the full install declares", async () => {
    scratch = scratchTree("edms-omit-dev", "none");
    // ~1 minute on a busy 2-core machine (the packages come from npm's cache when it has them).
    const install = await run("npm", ["ci", "--omit=dev", "--no-audit", "--no-fund", "--prefer-offline"], {
      cwd: scratch,
    });
    if (install.code !== 0) throw new Error(`npm ci --omit=dev failed:\n${install.stderr}`);
    // The install really is a production one: test and build tools are absent.
    for (const devOnly of ["vitest", "prettier", "kubernetes-models"]) {
      expect(existsSync(path.join(scratch, "node_modules", devOnly)), devOnly).toBe(false);
    }
    const [production, full] = await Promise.all([loadStack(scratch), loadStack(REPO_ROOT)]);
    expect(production.resources).toEqual(full.resources);
    expect((production.resources as string[]).length).toBeGreaterThan(20);
    expect(production.imageName).toBe(full.imageName);
    expect(production.imageBuild).toEqual(full.imageBuild);
    expect(production.outputs).toEqual(full.outputs);
  }, 600_000);
});
