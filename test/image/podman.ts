/**
 * podman as the image scripts run it: as root, with the settings in containers.conf beside this
 * file (runc, ulimits this kind of VM allows). Every call gets that CONTAINERS_CONF.
 */
import { spawn } from "node:child_process";
import path from "node:path";

export const CONTAINERS_CONF = path.resolve(__dirname, "containers.conf");

export function podmanEnv(): NodeJS.ProcessEnv {
  return { ...process.env, CONTAINERS_CONF };
}

export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command to completion; `echo` streams its output to this process's stderr as it comes
 * (builds take minutes and their progress is the only sign of life).
 */
export function runCommand(
  command: string,
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; echo?: boolean } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: opts.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => {
      stdout += s;
      if (opts.echo) process.stderr.write(s);
    });
    child.stderr.setEncoding("utf8").on("data", (s: string) => {
      stderr += s;
      if (opts.echo) process.stderr.write(s);
    });
    child.on("error", (err: NodeJS.ErrnoException) =>
      reject(err.code === "ENOENT" ? new Error(`${command} not found: ${INSTALL_HINT}`) : err),
    );
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

export const INSTALL_HINT =
  "apt-get install -y podman buildah mmdebstrap runc uidmap slirp4netns fuse-overlayfs (bash scripts/setup.sh --image-tools does it)";

/** podman with this project's containers.conf; throws with podman's message on failure. */
export async function podman(args: readonly string[], opts: { echo?: boolean } = {}): Promise<string> {
  const r = await runCommand("podman", args, { env: podmanEnv(), echo: opts.echo });
  if (r.code !== 0)
    throw new Error(`podman ${args.join(" ")} failed (${r.code ?? r.signal}):\n${r.stderr.slice(-4000)}`);
  return r.stdout;
}
