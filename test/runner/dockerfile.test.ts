// The image's contract, checked on the Dockerfile itself (`npm run test:image` builds and runs it
// with podman); the bundle it ships is exercised by every runner test, run from a folder with no
// node_modules.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { isolatedBundle } from "../helpers/runner-cli.js";
import { run } from "../helpers/exec.js";

const dockerfile = readFile(path.resolve(__dirname, "../../runner/Dockerfile"), "utf8");

describe("runner image", () => {
  it("ships only the bundle from its generated context, as a non-root numeric user", async () => {
    const text = await dockerfile;
    // One stage: the bundle is built by the program (components/image/image-context.ts), not in the image.
    expect(text.match(/^FROM /gm)).toEqual(["FROM "]);
    expect(text.match(/^(COPY|ADD) .*$/gm)).toEqual(["COPY edms-backup.cjs /app/edms-backup.cjs"]);
    const instructions = text.replace(/^\s*#.*$/gm, "");
    expect(instructions).not.toMatch(/node_modules|npm /);
    expect(text).toMatch(/^USER 10001:10001$/m);
    expect(text).toMatch(/^ENTRYPOINT \["node", "\/app\/edms-backup\.cjs"\]$/m);
    // V8's heap as the store backup's peak RSS was measured (BENCHMARKS.md issue 22); bench/media-store.ts reads this line.
    expect(text).toMatch(/^ {4}NODE_OPTIONS="--max-old-space-size=1024" \\$/m);
    expect(text).toMatch(/^ {4}MALLOC_ARENA_MAX=2$/m);
  });

  it("installs the PostgreSQL client of a configurable major version and apt source, tar, gzip, zstd and age", async () => {
    const text = await dockerfile;
    expect(text).toMatch(/^ARG PG_MAJOR=15$/m);
    expect(text).toMatch(/^ARG PG_APT_SOURCE=pgdg$/m);
    expect(text.match(/"postgresql-client-\$\{PG_MAJOR\}"/g)).toHaveLength(2);
    expect(text).toMatch(/install -y --no-install-recommends [^\n]*\btar gzip zstd age\b/);
    expect(text).toContain("PG_BIN_DIR=/usr/lib/postgresql/${PG_MAJOR}/bin");
    // The downloaded .debs and apt's lists do not stay in the layer.
    expect(text).toMatch(/apt-get clean; \\\n\s*rm -rf \/var\/lib\/apt\/lists\/\*/);
    // A proxy CA reaches the build only as a secret, never as a file in a layer.
    expect(text).toContain("RUN --mount=type=secret,id=extra-ca");
    expect(text).toMatch(/rm -f \/tmp\/build-ca\.pem/);
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
