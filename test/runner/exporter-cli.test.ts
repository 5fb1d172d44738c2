// `edms-backup exporter` given what a careless operator types: a bad --listen or --refresh-seconds
// exits 2 naming the setting before anything is bound or read; a port already taken exits 1 with
// what to do; an unreadable destination still serves (the scrape-error counter says why); other
// paths and methods are 404 and 405, and an IPv6 listen address works.
import { mkdtemp, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { freePort } from "../helpers/pg-cluster.js";
import { runRunner, startRunner } from "../helpers/runner-cli.js";

const dest = () => mkdtemp(path.join(tmpdir(), "edms-exporter-cli-"));

describe("exporter with bad input", () => {
  it.each([
    ["9863", "EXPORTER_LISTEN (--listen): must be HOST:PORT"],
    ["localhost", "EXPORTER_LISTEN (--listen): must be HOST:PORT"],
    ["127.0.0.1:99999", "EXPORTER_LISTEN (--listen): port must be 0-65535"],
    ["127.0.0.1:-1", "EXPORTER_LISTEN (--listen): must be HOST:PORT"],
    ["http://127.0.0.1:9863", "EXPORTER_LISTEN (--listen): must be HOST:PORT"],
    ["::1:9863", "EXPORTER_LISTEN (--listen): must be HOST:PORT"],
  ])("--listen %j exits 2: %s", async (listen, message) => {
    const r = await runRunner(["exporter", "--listen", listen], { BACKUP_DESTINATION: `file://${await dest()}` });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
  });

  it("names every bad setting at once (listen, refresh, destination)", async () => {
    const r = await runRunner(["exporter", "--listen", "nope", "--refresh-seconds", "0"], {});
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("EXPORTER_LISTEN (--listen)");
    expect(r.stderr).toContain("EXPORTER_REFRESH_SECONDS (--refresh-seconds): must be greater than zero");
    expect(r.stderr).toContain("BACKUP_DESTINATION (--destination): required");
  });

  it("accepts exactly the HOST:PORT shapes it can bind (property: no input crashes it)", async () => {
    const { runnerEnvSchema } = await import("../../runner/src/contract.js");
    const { parseListen } = await import("../../runner/src/exporter/exporter.js");
    fc.assert(
      fc.property(fc.string(), (value) => {
        const parsed = runnerEnvSchema.shape.EXPORTER_LISTEN.safeParse(value);
        if (!parsed.success) return;
        const { host, port } = parseListen(value);
        expect(Number.isInteger(port) && port >= 0 && port <= 65535).toBe(true);
        expect(host).not.toContain("[");
      }),
    );
  });

  it("exits 1 with what to do when the port is taken", async () => {
    const port = await freePort();
    const taken: Server = createServer();
    await new Promise<void>((r) => taken.listen(port, "127.0.0.1", r));
    try {
      const r = await runRunner(["exporter", "--listen", `127.0.0.1:${port}`], {
        BACKUP_DESTINATION: `file://${await dest()}`,
      });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`could not listen on 127.0.0.1:${port}`);
      expect(r.stderr).toContain("--listen HOST:PORT");
    } finally {
      taken.close();
    }
  });
});

describe("exporter serving", () => {
  it("serves on IPv6 loopback, answers 404/405 elsewhere, and counts a destination it cannot read", async () => {
    const root = await dest();
    // A file where the tier folder should be: the listing of daily/ fails.
    await writeFile(path.join(root, "daily"), "not a folder");
    const port = await freePort();
    const running = await startRunner(["exporter", "--listen", `[::1]:${port}`, "--refresh-seconds", "1"], {
      BACKUP_DESTINATION: `file://${root}`,
    });
    try {
      await running.waitForLog((l) => l.stage === "exporter" && typeof l.listen === "string");
      const base = `http://[::1]:${port}`;
      const metrics = await (await fetch(`${base}/metrics`)).text();
      expect(metrics).toMatch(/^edms_backup_exporter_scrape_errors_total\{source="backup_sets"\} [1-9]/m);
      expect(metrics).toMatch(/^edms_backup_exporter_scrape_errors_total\{source="drills"\} 0$/m);
      expect((await fetch(`${base}/nope`)).status).toBe(404);
      expect((await fetch(`${base}/metrics`, { method: "POST" })).status).toBe(405);
      const warn = await running.waitForLog((l) => l.source === "backup_sets");
      expect(String(warn.msg)).toContain("could not read backup sets");
    } finally {
      running.child.kill("SIGTERM");
      expect((await running.result).code).toBe(143);
    }
  });
});
