/**
 * A Debian base image with this machine's Node, made offline from the Debian mirror apt already
 * uses (no image registry is reachable from the CI machines): mmdebstrap a minbase bookworm, copy
 * in the running `node` binary (bookworm's nodejs is 18; the tests run 20), import it into podman.
 * Made once per Node version and reused: `podman image exists` is the cache.
 */
import { realpathSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { debianMirror, readAptSources } from "./apt-mirror.js";
import { podmanEnv, runCommand } from "./podman.js";

export const SUITE = "bookworm";

export function baseImageName(nodeVersion = process.version): string {
  return `localhost/edms-backup-base:${SUITE}-node${nodeVersion.replace(/^v/, "")}`;
}

export async function ensureBaseImage(log: (line: string) => void = () => {}): Promise<string> {
  const name = baseImageName();
  const exists = await runCommand("podman", ["image", "exists", name], { env: podmanEnv() });
  if (exists.code === 0) {
    log(`base image ${name}: cached`);
    return name;
  }
  const mirror = debianMirror(readAptSources(), SUITE);
  if (!mirror) throw new Error(`no apt source for "${SUITE} main" in /etc/apt: cannot make the base image`);
  const node = realpathSync(process.execPath);
  const work = await mkdtemp(path.join(tmpdir(), "edms-base-"));
  const rootfs = path.join(work, "rootfs");
  try {
    log(`base image ${name}: mmdebstrap ${SUITE} from the host's Debian mirror + ${node}`);
    const started = Date.now();
    const strap = await runCommand(
      "mmdebstrap",
      [
        "--variant=minbase",
        "--mode=root",
        "--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr",
        "--dpkgopt=path-exclude=/usr/share/doc/*",
        "--dpkgopt=path-exclude=/usr/share/man/*",
        "--dpkgopt=path-exclude=/usr/share/locale/*",
        // $1 is the new root; Node 20 needs only libstdc++6 beyond minbase.
        "--include=libstdc++6",
        `--customize-hook=cp ${JSON.stringify(node)} "$1/usr/local/bin/node"`,
        // apt's package caches (~70 MB) are rebuilt by the first apt-get update anyway.
        '--customize-hook=rm -f "$1"/var/cache/apt/*.bin',
        SUITE,
        rootfs,
        `deb ${mirror} ${SUITE} main`,
      ],
      { echo: false },
    );
    if (strap.code !== 0)
      throw new Error(`mmdebstrap failed (${strap.code ?? strap.signal}):\n${strap.stderr.slice(-4000)}`);
    log(`base image ${name}: rootfs in ${Math.round((Date.now() - started) / 1000)} s, importing`);
    const tar = await runCommand(
      "bash",
      [
        "-c",
        'set -o pipefail; tar -C "$1" --numeric-owner -c . | podman import --change "$2" - "$3"',
        "import",
        rootfs,
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        name,
      ],
      { env: podmanEnv() },
    );
    if (tar.code !== 0)
      throw new Error(`podman import failed (${tar.code ?? tar.signal}):\n${tar.stderr.slice(-4000)}`);
    log(`base image ${name}: made in ${Math.round((Date.now() - started) / 1000)} s`);
    return name;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
