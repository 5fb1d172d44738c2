// The README's first screen sets itself up: its quick start is exactly two commands, the setup
// script (which installs and runs the demo) and `npm test`; CI installs through the same script
// and runs the same test command, with no installs of its own, so the two cannot drift. The
// script, as bash runs it: nothing left to install here after it ran, every package on a machine
// that has none of the tools (a PATH without them), bad options refused; shellcheck on both.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(__dirname, "..");
const SETUP = "scripts/setup.sh";
const read = (file: string) => readFileSync(path.join(ROOT, file), "utf8");

/** The shell commands of a Markdown section's ```sh blocks, without comments and blank lines. */
function sectionCommands(markdown: string, heading: string): string[] {
  const start = markdown.indexOf(`\n${heading}\n`);
  expect(start, `README has no "${heading}"`).toBeGreaterThanOrEqual(0);
  const rest = markdown.slice(start + heading.length + 2);
  const section = rest.slice(0, rest.search(/\n#{2,3} /));
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((m) => commandLines(m[1]!));
}

function commandLines(script: string): string[] {
  return script
    .split("\n")
    .map((line) => line.replace(/(^|\s)#.*$/, "").trim())
    .filter((line) => line !== "");
}

function setup(args: string[], env: NodeJS.ProcessEnv = process.env) {
  const r = spawnSync("bash", [SETUP, ...args], { cwd: ROOT, env, encoding: "utf8" });
  return { code: r.status, out: r.stdout + r.stderr };
}

describe("the quick start", () => {
  it("is two commands: the setup script with the demo, and the tests", () => {
    expect(sectionCommands(read("README.md"), "## Quick start")).toEqual([`bash ${SETUP} --demo`, "npm test"]);
  });

  it("is what CI runs: the same script for every install, the same test command, nothing installed besides", () => {
    const ci = commandLines(read(".ci/run"));
    expect(ci).toContain(`bash ${SETUP} --image-tools`);
    expect(ci.filter((line) => line.startsWith("npm test"))).toEqual([
      'npm test -- --reporter=default --reporter=json --outputFile.json="$report"',
    ]);
    for (const line of ci) expect(line).not.toMatch(/apt-get|\bpipx?\b|npm (ci|install)|curl|wget/);
  });

  it("runs the demo after npm ci, and names every package the test helpers' install hints name", () => {
    const script = read(SETUP);
    expect(commandLines(script).slice(-2)).toEqual(["npm ci --no-audit --no-fund", "if $demo; then npm run demo; fi"]);
    const hints = [
      "test/helpers/pg-cluster.ts",
      "test/helpers/tls-ca.ts",
      "test/helpers/prometheus.ts",
      "test/image/podman.ts",
    ].map(read);
    const packages = hints.flatMap((text) =>
      [...text.matchAll(/apt-get install -y ([a-z0-9. -]+)/g)].flatMap((m) => m[1]!.trim().split(/\s+/)),
    );
    expect(packages).toContain("postgresql-15");
    // A whole package name: not a prefix of another (postgresql-15 in postgresql-15-foo).
    const named = (name: string) => new RegExp(`(?<![\\w.-])${name.replace(/\./g, "\\.")}(?![\\w.-])`);
    for (const name of packages) expect(script, name).toMatch(named(name));
  });
});

describe("scripts/setup.sh", () => {
  it("has nothing left to install on a machine it has set up (it is safe to run again)", () => {
    const r = setup(["--dry-run"]);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toBe("setup: would install: nothing from apt\nsetup: would run: npm ci\n");
  });

  it("installs every tool on a machine that has none of them", () => {
    // A PATH holding only what the script itself runs: no zstd, age, moto_server, podman ...
    const bin = mkdtempSync(path.join(tmpdir(), "edms-setup-path-"));
    for (const tool of ["bash", "id", "dirname", "node", "apt-cache"]) {
      const found = spawnSync("bash", ["-c", `command -v ${tool}`], { encoding: "utf8" }).stdout.trim();
      expect(found, tool).not.toBe("");
      symlinkSync(found, path.join(bin, tool));
    }
    const r = setup(["--dry-run", "--image-tools", "--demo"], { PATH: bin, HOME: tmpdir() });
    expect(r.code, r.out).toBe(0);
    const planned = /would install: (.*)/.exec(r.out)![1]!.split(" ");
    for (const name of [
      "zstd",
      "gzip",
      "tar",
      "procps",
      "bsdutils",
      "age",
      "openssl",
      "util-linux",
      "shellcheck",
      "prometheus",
    ])
      expect(planned).toContain(name);
    for (const name of ["podman", "buildah", "mmdebstrap", "runc", "uidmap", "slirp4netns", "fuse-overlayfs", "pipx"])
      expect(planned).toContain(name);
    expect(r.out).toContain("would install moto_server from PyPI");
    expect(r.out).toContain("would run: npm ci && npm run demo");
  });

  it("refuses an unknown option (exit 2) and installs nothing", () => {
    const r = setup(["--demp"]);
    expect(r.code).toBe(2);
    expect(r.out).toContain(
      "unknown option --demp (usage: bash scripts/setup.sh [--demo] [--image-tools] [--dry-run])",
    );
  });

  it("and .ci/run pass shellcheck", () => {
    const r = spawnSync("shellcheck", [SETUP, ".ci/run"], { cwd: ROOT, encoding: "utf8" });
    expect(r.error, "shellcheck is missing: bash scripts/setup.sh installs it").toBeUndefined();
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });
});
