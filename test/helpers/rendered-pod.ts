// Turns a pod spec the stack rendered into what the kubelet would give the container: its args and
// environment (ConfigMap/Secret envFrom, env values and $(VAR) references, secretKeyRefs filled
// from test Secrets), its volume mounts as folders, and its user. Whatever the spec holds that
// this does not understand throws, so a change to the pods cannot silently go untested.
// No vitest imports.
import { chmod, mkdir } from "node:fs/promises";
import path from "node:path";
import type { IContainer } from "kubernetes-models/v1/Container";
import { writeKeyVolume } from "../image/key-volume.js";
import { containerEnv, expandVars } from "../image/pod-env.js";

export interface ClusterObjects {
  configMaps: Record<string, Record<string, string>>;
  secrets: Record<string, Record<string, string>>;
  /** PersistentVolumeClaim name -> the folder standing in for the volume. */
  claims: Record<string, string>;
}

export interface PreparedPod {
  args: string[];
  env: Record<string, string>;
  uid: number;
  gid: number;
  groups: number[];
  /** mountPath -> folder, for messages and for mapping further paths. */
  mounts: Record<string, string>;
  /** A pod path as the test's folders hold it. */
  mapPath(value: string): string;
}

type Json = Record<string, unknown>;

function fail(what: string): never {
  throw new Error(`rendered pod: ${what}; teach test/helpers/rendered-pod.ts about it`);
}

function obj(value: unknown, what: string): Json {
  if (value === null || typeof value !== "object" || Array.isArray(value)) fail(`${what} is not an object`);
  return value as Json;
}

function list(value: unknown): Json[] {
  return Array.isArray(value) ? (value as Json[]) : [];
}

/** Prepares `podSpec` under `root` (one folder per volume). */
export async function preparePod(podSpec: unknown, objects: ClusterObjects, root: string): Promise<PreparedPod> {
  const spec = obj(podSpec, "pod spec");
  if (list(spec.initContainers).length) fail("init containers");
  const containers = list(spec.containers);
  if (containers.length !== 1) fail(`${containers.length} containers`);
  const container = containers[0]!;
  if (container.command) fail("a command overriding the image's entrypoint");

  const podSecurity = (spec.securityContext ?? {}) as Json;
  const containerSecurity = (container.securityContext ?? {}) as Json;
  const uid = Number(containerSecurity.runAsUser ?? podSecurity.runAsUser ?? fail("no runAsUser"));
  const gid = Number(containerSecurity.runAsGroup ?? podSecurity.runAsGroup ?? uid);
  const groups = (podSecurity.supplementalGroups as number[] | undefined) ?? [];

  // Volumes, as the kubelet makes them.
  const volumes = new Map(list(spec.volumes).map((v) => [String(v.name), v]));
  const mounts: Record<string, string> = {};
  for (const mount of list(container.volumeMounts)) {
    const name = String(mount.name);
    const volume = volumes.get(name) ?? fail(`volumeMount ${name} without a volume`);
    let folder = path.join(root, `volume-${name}`);
    if (volume.emptyDir) {
      await mkdir(folder, { recursive: true });
      await chmod(folder, 0o777);
    } else if (volume.persistentVolumeClaim) {
      const claim = String(obj(volume.persistentVolumeClaim, "pvc").claimName);
      folder = objects.claims[claim] ?? fail(`no test folder for PersistentVolumeClaim ${claim}`);
    } else if (volume.secret || volume.configMap) {
      const source = obj(volume.secret ?? volume.configMap, "volume source");
      const kind = volume.secret ? "Secret" : "ConfigMap";
      const sourceName = String(volume.secret ? source.secretName : source.name);
      const items = source.items
        ? list(source.items).map((i) => ({
            key: String(i.key),
            path: String(i.path),
            mode: i.mode as number | undefined,
          }))
        : undefined;
      await writeKeyVolume(
        kind,
        {
          name: sourceName,
          items,
          defaultMode: source.defaultMode as number | undefined,
          optional: Boolean(source.optional),
        },
        (volume.secret ? objects.secrets : objects.configMaps)[sourceName],
        folder,
      );
    } else {
      fail(`volume ${name} of a kind the test does not stand in for (${Object.keys(volume).join(", ")})`);
    }
    if (mount.subPath) folder = path.join(folder, String(mount.subPath));
    mounts[String(mount.mountPath)] = folder;
  }

  // Longest mount path first, so /a/b wins over /a.
  const byLength = Object.keys(mounts).sort((a, b) => b.length - a.length);
  const mapPath = (value: string): string => {
    for (const mountPath of byLength) {
      if (value === mountPath || value.startsWith(`${mountPath}/`))
        return mounts[mountPath] + value.slice(mountPath.length);
    }
    return value;
  };

  // Environment: as the kubelet builds it (shared with the image test's podman translation).
  const { env } = containerEnv(container as Pick<IContainer, "env" | "envFrom">, objects);
  const args = list(container.args as unknown).map((a) => mapPath(expandVars(String(a), env)));
  for (const [k, v] of Object.entries(env)) env[k] = mapPath(v);
  return { args, env, uid, gid, groups, mounts, mapPath };
}

/**
 * The command line that runs `command` as the pod's user (setpriv; tests run as root in CI). As a
 * normal user the command runs as that user: the uid part of the check is then skipped.
 */
export function asPodUser(pod: PreparedPod, command: readonly string[]): { file: string; args: string[] } {
  if (process.getuid?.() !== 0) return { file: command[0]!, args: command.slice(1) };
  const groups = pod.groups.length ? [`--groups=${pod.groups.join(",")}`] : ["--clear-groups"];
  return {
    file: "setpriv",
    args: [`--reuid=${pod.uid}`, `--regid=${pod.gid}`, ...groups, "--", ...command],
  };
}
