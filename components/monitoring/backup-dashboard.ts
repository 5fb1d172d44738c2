/** The CloudWatch dashboard (stack config `cloudwatchDashboard`); the body is cloudwatch-dashboard.ts's. */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { cloudwatchDashboardBody, type CloudWatchDashboardSettings } from "./cloudwatch-dashboard.js";

export interface BackupDashboardArgs extends Omit<CloudWatchDashboardSettings, "region"> {
  region: pulumi.Input<string>;
}

export class BackupDashboard extends pulumi.ComponentResource {
  readonly dashboardName: string;

  constructor(name: string, args: BackupDashboardArgs, opts?: pulumi.ComponentResourceOptions) {
    super("edms-backup:dashboard:BackupDashboard", name, {}, opts);
    this.dashboardName = `${args.appName}-backup`;
    new aws.cloudwatch.Dashboard(
      `${name}-dashboard`,
      {
        dashboardName: this.dashboardName,
        dashboardBody: pulumi
          .output(args.region)
          .apply((region) => JSON.stringify(cloudwatchDashboardBody({ ...args, region }))),
      },
      { parent: this },
    );
    this.registerOutputs({ dashboardName: this.dashboardName });
  }
}
