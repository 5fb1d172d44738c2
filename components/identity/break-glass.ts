/**
 * The break-glass role (stack config breakGlass): for recovery when the cluster, the Pulumi state
 * or the runner's identity are gone (docs/RUNBOOK.md "Total loss"). It reads the backups and
 * decrypts them through S3 with the bucket's KMS key, exactly the exporter's read-only rights
 * (readerPolicy: writes and deletes denied outright), and only the configured principals may
 * assume it, with MFA unless turned off.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { breakGlassTrustPolicy, readerPolicy } from "./iam-policies.js";

export interface BreakGlassArgs {
  principals: string[];
  requireMfa: boolean;
  bucketArn: pulumi.Input<string>;
  keyPrefix: string;
  kmsKeyArn: pulumi.Input<string>;
}

export class BreakGlassRole extends pulumi.ComponentResource {
  readonly role: aws.iam.Role;

  constructor(name: string, args: BreakGlassArgs, opts?: pulumi.ComponentResourceOptions) {
    super("edms-backup:identity:BreakGlassRole", name, {}, opts);
    const parent = { parent: this };
    this.role = new aws.iam.Role(
      `${name}-role`,
      {
        description:
          "edms-backup break-glass: read and decrypt the backups, nothing else (docs/RUNBOOK.md, Total loss)",
        assumeRolePolicy: JSON.stringify(breakGlassTrustPolicy(args.principals, args.requireMfa)),
        maxSessionDuration: 12 * 3600,
      },
      parent,
    );
    const region = aws.getRegionOutput({}, parent).region;
    new aws.iam.RolePolicy(
      `${name}-policy`,
      {
        role: this.role.id,
        policy: pulumi
          .all([args.bucketArn, args.kmsKeyArn, region])
          .apply(([bucketArn, kmsKeyArn, r]) =>
            JSON.stringify(readerPolicy({ bucketArn, kmsKeyArn, region: r, keyPrefix: args.keyPrefix })),
          ),
      },
      parent,
    );
    this.registerOutputs({ roleArn: this.role.arn });
  }
}
