/**
 * Pure builders for the runner image: the ECR lifecycle policy and a content-derived tag (the
 * repository's tags are immutable, so a changed image needs a new tag, and an unchanged one must
 * keep its tag so `pulumi up` does not rebuild for nothing).
 */
import { createHash } from "node:crypto";

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

/** `<version>-<12 hex>` from the build inputs' contents and the PostgreSQL major version. */
export function imageTag(
  version: string,
  pgMajor: string,
  contents: Array<{ path: string; data: Buffer | string }>,
): string {
  const hash = createHash("sha256");
  hash.update(`pg${pgMajor}\0`);
  for (const { path, data } of [...contents].sort((a, b) => a.path.localeCompare(b.path))) {
    hash.update(path);
    hash.update("\0");
    hash.update(data);
    hash.update("\0");
  }
  return `${version}-pg${pgMajor}-${hash.digest("hex").slice(0, 12)}`;
}

/** `repo@sha256:...` from a registry digest as docker.Image reports it. */
export function pinnedReference(repositoryUrl: string, repoDigest: string): string {
  const at = repoDigest.indexOf("@");
  const digest = at >= 0 ? repoDigest.slice(at + 1) : repoDigest;
  if (!/^sha256:[0-9a-f]{64}$/.test(digest)) throw new Error(`not an image digest: ${repoDigest}`);
  return `${repositoryUrl}@${digest}`;
}
