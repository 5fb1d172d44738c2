// An AGE_IDENTITY_FILE its group or others may read decrypts every backup for them: the run warns,
// as ssh does for a private key (issue 21). A Kubernetes Secret volume (the kubelet's ..data
// layout, mode 0444 so the non-root runner can read it) is the pod's own and not warned about.
import { chmod, mkdir, mkdtemp, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { looseIdentityFile } from "../../runner/src/encryption/identity.js";
import { newAgeKey, type AgeKeyPair } from "../helpers/age-key.js";
import { mediaOnlyBackup } from "../helpers/media-only-backup.js";
import { runRunner } from "../helpers/runner-cli.js";

let dir: string;
let key: AgeKeyPair;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "edms-identity-mode-"));
  key = await newAgeKey(dir);
});

describe("AGE_IDENTITY_FILE permissions", () => {
  it("warns exactly when group or others have any access (every mode the owner can read)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 0o777 }), async (mode) => {
        const owner = mode | 0o400;
        await chmod(key.file, owner);
        const warning = looseIdentityFile(key.file);
        if (owner & 0o077) {
          expect(warning).toContain(`is readable by others (mode ${owner.toString(8).padStart(4, "0")})`);
          expect(warning).toContain(`chmod 600 ${key.file}`);
        } else expect(warning).toBeUndefined();
      }),
      { numRuns: 200 },
    );
    await chmod(key.file, 0o600);
  });

  it("a Kubernetes Secret volume (name -> ..data/name, 0444) is not warned about", async () => {
    const volume = path.join(dir, "secret-volume");
    const data = path.join(volume, "..2026_12_07_03_00_00.1");
    await mkdir(data, { recursive: true });
    const { copyFile } = await import("node:fs/promises");
    await copyFile(key.file, path.join(data, "identity"));
    await chmod(path.join(data, "identity"), 0o444);
    await symlink(path.basename(data), path.join(volume, "..data"));
    await symlink("..data/identity", path.join(volume, "identity"));
    expect(looseIdentityFile(path.join(volume, "identity"))).toBeUndefined();
    // The same bits on a plain file are.
    await chmod(key.file, 0o444);
    expect(looseIdentityFile(key.file)).toMatch(/mode 0444/);
    await chmod(key.file, 0o600);
  });

  it("verify logs the warning (and still runs); a 0600 file gets none", async () => {
    const root = await mediaOnlyBackup("edms-identity-mode");
    const env = { BACKUP_DESTINATION: `file://${root}`, AGE_IDENTITY_FILE: key.file };
    await chmod(key.file, 0o644);
    const loose = await runRunner(["verify", "latest"], env);
    expect(loose.code, loose.stderr).toBe(0);
    const warned = loose.logs.find((l) => l.stage === "identity");
    expect(warned?.level).toBe("warn");
    expect(warned?.msg).toContain(`AGE_IDENTITY_FILE ${key.file} is readable by others (mode 0644)`);
    expect(loose.stdout).not.toContain(key.secret);
    await chmod(key.file, 0o600);
    const tight = await runRunner(["verify", "latest"], env);
    expect(tight.code, tight.stderr).toBe(0);
    expect(tight.logs.some((l) => l.stage === "identity")).toBe(false);
  });
});
