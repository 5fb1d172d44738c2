// The repository as committed: a rebase whose conflict was "resolved" by adding the file as it
// stood once left conflict markers in docs/RUNBOOK.md on main. Nothing else reads the docs, so
// only this would notice. `git grep` sees exactly the tracked files.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);

describe("the committed tree", () => {
  it("holds no merge conflict markers", async () => {
    // Exit 1 = no match; anything else is an error worth seeing.
    const found = await run("git", ["grep", "-n", "-E", "^(<{7} |>{7} |={7}$)"], { cwd: `${__dirname}/..` }).then(
      (r) => r.stdout,
      (e: { code?: number; stdout?: string; stderr?: string }) => {
        if (e.code === 1) return "";
        throw new Error(`git grep failed: ${e.stderr ?? String(e)}`);
      },
    );
    expect(found).toBe("");
  });
});
