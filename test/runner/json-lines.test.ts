// With LOG_FORMAT=json (or --log-format json) every line the runner writes, on stdout and stderr,
// is one JSON object: the log, and also its last words (a failed run's final error, a
// configuration error, a usage error), so `kubectl logs job/... | jq` reads a failed run to its end.
// The bundled CLI is run as the pods run it; every line of both streams is parsed.
import { mkdtemp } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runRunner, type RunnerResult } from "../helpers/runner-cli.js";

let root: string;
let closedPort: number;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), "edms-json-lines-"));
  // A port nothing listens on: the database cannot be reached.
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  closedPort = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** Every non-empty line of stdout and stderr, parsed; a line that is not JSON fails the test. */
function jsonLines(result: RunnerResult): Array<Record<string, unknown>> {
  const lines = [...result.stdout.split("\n"), ...result.rawStderr.split("\n")].filter((l) => l !== "");
  return lines.map((line) => {
    try {
      return JSON.parse(line) as Record<string, unknown>;
    } catch {
      throw new Error(`not a JSON line: ${line}\nstdout:\n${result.stdout}\nstderr:\n${result.rawStderr}`);
    }
  });
}

/** The last line of stderr: the runner's final word. */
function finalLine(result: RunnerResult): Record<string, unknown> {
  const last = result.rawStderr.trimEnd().split("\n").at(-1)!;
  return JSON.parse(last) as Record<string, unknown>;
}

describe("LOG_FORMAT=json: every line is JSON", () => {
  it("a configuration error (bad tier, relative destination): exit 2, one JSON line naming every problem", async () => {
    const result = await runRunner(["backup"], {
      BACKUP_DESTINATION: "file:relative/path",
      BACKUP_TIER: "hourly",
      MEDIA_DIR: root,
      DATABASE_URL: "postgres://u:pw@127.0.0.1:1/db",
    });
    expect(result.code).toBe(2);
    jsonLines(result);
    const last = finalLine(result);
    expect(last).toMatchObject({ level: "error", stage: "exit", exitCode: 2 });
    expect(typeof last.time).toBe("string");
    expect(last.msg).toMatch(/^edms-backup: invalid configuration/);
    const problems = last.problems as string[];
    expect(problems.some((p) => p.startsWith("BACKUP_TIER"))).toBe(true);
    expect(problems.some((p) => p.startsWith("BACKUP_DESTINATION"))).toBe(true);
  });

  it("a failed run (database unreachable): exit 1, the log and the final error are JSON, no password", async () => {
    const media = await mkdtemp(path.join(root, "media-"));
    const result = await runRunner(["backup", "--tier", "daily"], {
      BACKUP_DESTINATION: `file://${path.join(root, "backups")}`,
      MEDIA_DIR: media,
      DATABASE_URL: `postgres://edms:s3cretpw@127.0.0.1:${closedPort}/edms`,
    });
    expect(result.code).toBe(1);
    const lines = jsonLines(result);
    expect(lines.some((l) => l.stage === "failed")).toBe(true);
    const last = finalLine(result);
    expect(last).toMatchObject({ level: "error", stage: "exit", exitCode: 1 });
    expect(last.msg).toMatch(/could not connect to the database/);
    expect(result.stdout + result.rawStderr).not.toContain("s3cretpw");
  });

  it("a usage error (a flag typo): exit 2, one JSON line with the suggestion and no help text", async () => {
    const result = await runRunner(["backup", "--teir", "daily"], {});
    expect(result.code).toBe(2);
    const lines = jsonLines(result);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: "error", stage: "exit", exitCode: 2 });
    expect(lines[0]!.msg).toMatch(/unknown option '--teir'.*Did you mean --tier\?.*--help/);
  });

  it("--log-format json without LOG_FORMAT: the final error of list and verify are JSON too", async () => {
    for (const [args, destination] of [
      [["list", "--log-format", "json"], "file:relative"],
      [["verify", "latest", "--log-format=json"], `file://${path.join(root, "empty")}`],
    ] as const) {
      const result = await runRunner(args, { LOG_FORMAT: undefined, BACKUP_DESTINATION: destination });
      expect(result.code, result.rawStderr).not.toBe(0);
      jsonLines(result);
      expect(finalLine(result)).toMatchObject({ level: "error", stage: "exit" });
    }
  });

  it("a drill whose settings are invalid: every line JSON, ending with the configuration error", async () => {
    const result = await runRunner(["drill"], { BACKUP_DESTINATION: "s3://", DATABASE_URL: "nonsense" });
    expect(result.code).toBe(2);
    jsonLines(result);
    expect(finalLine(result)).toMatchObject({ stage: "exit", exitCode: 2 });
  });

  it("LOG_FORMAT=pretty keeps the plain last line, with a short usage hint instead of the whole help", async () => {
    const typo = await runRunner(["backup", "--teir", "daily"], { LOG_FORMAT: "pretty" });
    expect(typo.code).toBe(2);
    const text = typo.rawStderr.trimEnd().split("\n");
    expect(text.at(-1)).toBe("(add --help for usage)");
    expect(text.join("\n")).toMatch(/Did you mean --tier\?/);
    expect(text.length).toBeLessThanOrEqual(4);
    const bad = await runRunner(["list"], { LOG_FORMAT: "pretty", BACKUP_DESTINATION: "file:relative" });
    expect(bad.code).toBe(2);
    expect(bad.rawStderr).toMatch(/^edms-backup: invalid configuration:\n {2}- BACKUP_DESTINATION/);
  });
});
