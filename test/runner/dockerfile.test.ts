// There is no Docker engine here, so the image's contract is checked on the Dockerfile itself; the
// bundle it ships is exercised by every runner test, run from a folder with no node_modules.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { isolatedBundle } from "../helpers/runner-cli.js";
import { run } from "../helpers/exec.js";

const dockerfile = readFile(path.resolve(__dirname, "../../runner/Dockerfile"), "utf8");

function finalStage(text: string): string {
  const stages = text.split(/^FROM /m);
  return stages[stages.length - 1]!;
}

describe("runner image", () => {
  it("is multi-stage and ships only the bundle, as a non-root numeric user", async () => {
    const text = await dockerfile;
    expect(text.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(2);
    const last = finalStage(text);
    expect(last).toMatch(/^COPY --from=build \/src\/dist\/edms-backup\.cjs \/app\/edms-backup\.cjs$/m);
    expect(last).not.toMatch(/node_modules/);
    expect(last).toMatch(/^USER 10001:10001$/m);
    expect(last).toMatch(/^ENTRYPOINT \["node", "\/app\/edms-backup\.cjs"\]$/m);
  });

  it("installs the PostgreSQL client of a configurable major version, tar, gzip, zstd and age", async () => {
    const last = finalStage(await dockerfile);
    expect(last).toMatch(/^ARG PG_MAJOR=15$/m);
    expect(last).toContain('"postgresql-client-${PG_MAJOR}"');
    expect(last).toMatch(/install -y --no-install-recommends [^\n]*\btar gzip zstd age\b/);
    expect(last).toContain("PG_BIN_DIR=/usr/lib/postgresql/${PG_MAJOR}/bin");
  });

  it("the bundle runs with plain node from a folder without node_modules", async () => {
    const bundle = await isolatedBundle();
    const ls = await run("ls", ["-a", path.dirname(bundle)]);
    expect(ls.stdout.split("\n").filter(Boolean).sort()).toEqual([".", "..", "edms-backup.cjs"]);
    const help = await run(process.execPath, [bundle, "--version"], {
      cwd: path.dirname(bundle),
      env: { PATH: process.env.PATH },
    });
    expect(help.code).toBe(0);
    expect(help.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
