/**
 * Builds the runner image with podman from a generated context (components/image/image-context.ts), on
 * the offline base made by base.ts. A proxy CA (NODE_EXTRA_CA_CERTS, as on machines that reach
 * registries through a TLS-intercepting proxy) is handed to the build as a secret, never a layer.
 */
import { existsSync } from "node:fs";
import { ensureBaseImage } from "./base.js";
import { podman } from "./podman.js";

export interface BuiltImage {
  name: string;
  id: string;
  sizeBytes: number;
  seconds: number;
}

export async function buildRunnerImage(opts: {
  contextDir: string;
  tag: string;
  args: Record<string, string>;
  platform: string;
  log?: (line: string) => void;
}): Promise<BuiltImage> {
  const log = opts.log ?? (() => {});
  const base = await ensureBaseImage(log);
  const name = `localhost/edms-backup-runner:${opts.tag}`;
  const started = Date.now();
  const buildArgs = Object.entries({ ...opts.args, NODE_IMAGE: base }).flatMap(([k, v]) => [
    "--build-arg",
    `${k}=${v}`,
  ]);
  const ca = process.env.NODE_EXTRA_CA_CERTS;
  const secret = ca && existsSync(ca) ? ["--secret", `id=extra-ca,src=${ca}`] : [];
  log(`building ${name} from ${opts.contextDir}`);
  await podman([
    "build",
    "--pull=never",
    // The build's apt reaches the mirror the way this machine does.
    "--network",
    "host",
    "--platform",
    opts.platform,
    ...buildArgs,
    ...secret,
    "--tag",
    name,
    opts.contextDir,
  ]);
  const [id, size] = (await podman(["image", "inspect", name, "--format", "{{.Id}} {{.Size}}"])).trim().split(" ");
  return { name, id: id!, sizeBytes: Number(size), seconds: Math.round((Date.now() - started) / 1000) };
}
