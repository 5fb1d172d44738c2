/**
 * A Secret or ConfigMap volume as the kubelet writes it: the selected keys (or all) as files under
 * their item paths, owned by root, with the item's mode or the volume's defaultMode (0644 unset).
 * Shared by the rendered-pod test (a folder per volume for a host process) and the image test (a
 * folder podman mounts): both stand in for the same kubelet behaviour.
 */
import { chmod, chown, mkdir, writeFile } from "node:fs/promises";
import path from "node:path";

export interface KeyVolumeSource {
  /** Secret or ConfigMap name, for messages. */
  name: string;
  items?: Array<{ key: string; path: string; mode?: number }>;
  defaultMode?: number;
  optional?: boolean;
}

/** Writes the volume's files into `folder`; throws where the pod would not start. */
export async function writeKeyVolume(
  kind: "Secret" | "ConfigMap",
  source: KeyVolumeSource,
  data: Record<string, string> | undefined,
  folder: string,
): Promise<void> {
  if (!data && !source.optional)
    throw new Error(`${kind} ${source.name} is not a test object (the pod would not start)`);
  const items = source.items ?? Object.keys(data ?? {}).map((key) => ({ key, path: key, mode: undefined }));
  await mkdir(folder, { recursive: true });
  await chmod(folder, 0o755);
  for (const item of items) {
    const value = data?.[item.key];
    if (value === undefined) {
      if (source.optional) continue;
      throw new Error(`key ${item.key} missing from ${kind} ${source.name} (the pod would not start)`);
    }
    const file = path.join(folder, item.path);
    if (!file.startsWith(folder + path.sep)) throw new Error(`item path ${item.path} escapes the volume`);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, value);
    await chmod(file, item.mode ?? source.defaultMode ?? 0o644);
    if (process.getuid?.() === 0) await chown(file, 0, 0);
  }
}
