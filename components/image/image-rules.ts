/**
 * Pure builders for the runner image: the ECR lifecycle policy and a content-derived tag (the
 * repository's tags are immutable, so a changed image needs a new tag, and an unchanged one must
 * keep its tag so `pulumi up` does not rebuild for nothing).
 */
import { createHash } from "node:crypto";

/** Where the PostgreSQL client comes from: apt.postgresql.org (any major) or Debian (bookworm: 15). */
export const APT_SOURCES = ["pgdg", "debian"] as const;
export type AptSource = (typeof APT_SOURCES)[number];
/** The only client major the Debian release of the image (bookworm) ships. */
export const DEBIAN_PG_MAJOR = "15";

export function ecrLifecyclePolicy(keepImages: number): string {
  return JSON.stringify({
    rules: [
      {
        rulePriority: 1,
        description: "Expire untagged images (failed or superseded pushes) after 7 days",
        selection: { tagStatus: "untagged", countType: "sinceImagePushed", countUnit: "days", countNumber: 7 },
        action: { type: "expire" },
      },
      {
        rulePriority: 2,
        // The CronJobs pin a digest; keeping several lets a rollback still pull its image.
        description: `Keep the ${keepImages} most recent images`,
        selection: { tagStatus: "any", countType: "imageCountMoreThan", countNumber: keepImages },
        action: { type: "expire" },
      },
    ],
  });
}

/**
 * `<version>-pg<major>-<12 hex>`: the hex hashes every file of the build context (path and bytes)
 * and every build setting (each build argument, the platform), so the tag changes exactly when
 * what `docker build` is given changes. Paths are compared as strings, not by locale.
 */
export function imageTag(
  version: string,
  settings: Record<string, string>,
  contents: ReadonlyArray<{ path: string; data: Buffer | string }>,
): string {
  const hash = createHash("sha256");
  const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  // Length-prefixed fields: no choice of names or bytes can make two different sets hash alike.
  const field = (value: Buffer | string): void => {
    const bytes = typeof value === "string" ? Buffer.from(value, "utf8") : value;
    hash.update(`${bytes.length}:`);
    hash.update(bytes);
  };
  for (const key of Object.keys(settings).sort(byName)) {
    field(`setting ${key}`);
    field(settings[key]!);
  }
  for (const { path, data } of [...contents].sort((a, b) => byName(a.path, b.path))) {
    field(`file ${path}`);
    field(data);
  }
  const major = settings.PG_MAJOR ?? "x";
  return `${version}-pg${major}-${hash.digest("hex").slice(0, 12)}`;
}

/** `repo@sha256:...` from a registry digest as docker.Image reports it. */
export function pinnedReference(repositoryUrl: string, repoDigest: string): string {
  const at = repoDigest.indexOf("@");
  const digest = at >= 0 ? repoDigest.slice(at + 1) : repoDigest;
  if (!/^sha256:[0-9a-f]{64}$/.test(digest)) throw new Error(`not an image digest: ${repoDigest}`);
  return `${repositoryUrl}@${digest}`;
}
