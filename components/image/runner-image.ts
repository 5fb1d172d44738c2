/**
 * The runner image: built from a context the program generates (runner/Dockerfile and the runner
 * bundle, nothing else; see image-context.ts) for linux/amd64 and pushed to a scanned, immutable
 * ECR repository; or, when the stack gives a digest-pinned reference, used as it is with nothing
 * built. Either way `imageRef` is pinned by digest, so every CronJob runs exactly the pushed bytes.
 */
import * as aws from "@pulumi/aws";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { buildImageContext, PLATFORM, writeImageContext } from "./image-context.js";
import { ecrLifecyclePolicy, pinnedReference, type AptSource } from "./image-rules.js";

export type RunnerImageArgs =
  | { kind: "reference"; image: string }
  | {
      kind: "build";
      /** The repository root; the program runs from it, so "." in practice. */
      repoRoot: string;
      version: string;
      pgMajor: string;
      aptSource: AptSource;
      keepImages: number;
    };

export class RunnerImage extends pulumi.ComponentResource {
  readonly imageRef: pulumi.Output<string>;
  readonly repository?: aws.ecr.Repository;
  /** The image tag and the generated build context (relative to the repository root), when built. */
  readonly tag?: string;
  readonly context?: string;

  constructor(name: string, args: RunnerImageArgs, opts?: pulumi.ComponentResourceOptions) {
    super("edms-backup:image:RunnerImage", name, {}, opts);
    const parent = { parent: this };

    if (args.kind === "reference") {
      this.imageRef = pulumi.output(args.image);
      this.registerOutputs({ imageRef: this.imageRef });
      return;
    }

    const repository = new aws.ecr.Repository(
      `${name}-repo`,
      {
        imageTagMutability: "IMMUTABLE",
        imageScanningConfiguration: { scanOnPush: true },
        encryptionConfigurations: [{ encryptionType: "AES256" }],
        forceDelete: false,
      },
      parent,
    );
    this.repository = repository;
    new aws.ecr.LifecyclePolicy(
      `${name}-repo-lifecycle`,
      { repository: repository.name, policy: ecrLifecyclePolicy(args.keepImages) },
      parent,
    );

    const credentials = aws.ecr.getAuthorizationTokenOutput({ registryId: repository.registryId }, parent);
    const context = buildImageContext(args.repoRoot, args.version, {
      PG_MAJOR: args.pgMajor,
      PG_APT_SOURCE: args.aptSource,
    });
    writeImageContext(args.repoRoot, context);
    this.tag = context.tag;
    this.context = context.dir;

    const image = new docker.Image(
      `${name}-image`,
      {
        imageName: pulumi.interpolate`${repository.repositoryUrl}:${context.tag}`,
        build: {
          // Relative to the program's folder, so the state does not depend on the checkout's path.
          context: context.dir,
          dockerfile: `${context.dir}/Dockerfile`,
          platform: PLATFORM,
          args: { ...context.args },
        },
        registry: {
          server: repository.repositoryUrl,
          username: credentials.userName,
          password: pulumi.secret(credentials.password),
        },
      },
      parent,
    );
    this.imageRef = pulumi
      .all([repository.repositoryUrl, image.repoDigest])
      .apply(([url, digest]) => pinnedReference(url, digest));

    this.registerOutputs({ imageRef: this.imageRef, repositoryUrl: repository.repositoryUrl });
  }
}
