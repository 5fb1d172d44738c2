/**
 * The runner image: built from runner/Dockerfile (build context = the repository root, which holds
 * the bundled dist/edms-backup.cjs) for linux/amd64 and pushed to a scanned, immutable ECR
 * repository; or, when the stack gives a digest-pinned reference, used as it is with nothing built.
 * Either way `imageRef` is pinned by digest, so every CronJob runs exactly the pushed bytes.
 */
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import * as aws from "@pulumi/aws";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { ecrLifecyclePolicy, imageTag, pinnedReference } from "./image-rules.js";

/** Files whose contents decide the image; relative to the build context. */
export const BUILD_INPUTS = ["runner/Dockerfile", "dist/edms-backup.cjs"] as const;

export type RunnerImageArgs =
  | { kind: "reference"; image: string }
  | { kind: "build"; context: string; version: string; pgMajor: string; keepImages: number };

export class RunnerImage extends pulumi.ComponentResource {
  readonly imageRef: pulumi.Output<string>;
  readonly repository?: aws.ecr.Repository;

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
    const inputs = BUILD_INPUTS.filter((file) => existsSync(path.join(args.context, file))).map((file) => ({
      path: file,
      data: readFileSync(path.join(args.context, file)),
    }));
    if (inputs.length < BUILD_INPUTS.length) {
      pulumi.log.warn(
        `building the runner image without ${BUILD_INPUTS.filter((f) => !inputs.some((i) => i.path === f)).join(", ")}: run \`npm run build\` first`,
        this,
      );
    }
    const tag = imageTag(args.version, args.pgMajor, inputs);

    const image = new docker.Image(
      `${name}-image`,
      {
        imageName: pulumi.interpolate`${repository.repositoryUrl}:${tag}`,
        build: {
          context: args.context,
          dockerfile: path.join(args.context, "runner/Dockerfile"),
          // EKS nodes in this design are x86_64; building on an arm64 laptop must not change that.
          platform: "linux/amd64",
          args: { PG_MAJOR: args.pgMajor },
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
