/**
 * Alarms that fire when backups stop: an SNS topic (with email subscriptions) and, per scheduled
 * tier, a CloudWatch alarm on the age of its newest complete backup. They live in CloudWatch, not
 * in the cluster, so they still fire when the CronJobs, the namespace or the whole cluster are
 * gone (the metric stops arriving, and missing data is breaching). Rules come from alarm-rules.ts.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { ScheduledTier } from "../../runner/src/contract.js";
import { ageAlarmRule, drillAlarmRules, referenceCheckAlarmRule, type StatusEveryHours } from "./alarm-rules.js";
import { subscribeEmails } from "./email-subscriptions.js";

export interface BackupAlarmsArgs {
  appName: string;
  namespace: string;
  /** Longest interval of each scheduled tier's schedule, in seconds; a tier missing here has no alarm. */
  intervals: Partial<Record<ScheduledTier, number>>;
  graceHours: number;
  statusEveryHours: StatusEveryHours;
  emails: string[];
  topicKmsKeyArn?: string;
  /** Watch the restore drill (failed, or none passed for maxAgeHours); unset = no drill alarm. */
  drill?: { maxAgeHours: number };
  /** MEDIA_REFERENCES is set: alarm when a backup could not run its reference check. */
  referenceCheck?: boolean;
}

export class BackupAlarms extends pulumi.ComponentResource {
  readonly topic: aws.sns.Topic;
  readonly alarmNames: Record<string, string>;

  constructor(name: string, args: BackupAlarmsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("edms-backup:alarms:BackupAlarms", name, {}, opts);
    const parent = { parent: this };

    this.topic = new aws.sns.Topic(
      `${name}-topic`,
      {
        namePrefix: `${args.appName}-backup-alarms-`,
        displayName: `${args.appName} backups`,
        ...(args.topicKmsKeyArn ? { kmsMasterKeyId: args.topicKmsKeyArn } : {}),
      },
      parent,
    );
    subscribeEmails(name, this.topic, args.emails, parent);

    this.alarmNames = {};
    for (const [tier, intervalSeconds] of Object.entries(args.intervals) as Array<[ScheduledTier, number]>) {
      const rule = ageAlarmRule({
        appName: args.appName,
        namespace: args.namespace,
        tier,
        intervalSeconds,
        graceHours: args.graceHours,
        statusEveryHours: args.statusEveryHours,
      });
      new aws.cloudwatch.MetricAlarm(
        `${name}-${tier}-age`,
        {
          ...rule,
          // OK actions too: the people who were paged also learn when backups are back.
          alarmActions: [this.topic.arn],
          okActions: [this.topic.arn],
        },
        parent,
      );
      this.alarmNames[tier] = rule.name;
    }
    if (args.drill) {
      const rules = drillAlarmRules({
        appName: args.appName,
        namespace: args.namespace,
        statusEveryHours: args.statusEveryHours,
        maxAgeHours: args.drill.maxAgeHours,
      });
      // The two conditions as alarms without actions, and one composite that notifies.
      const overdue = new aws.cloudwatch.MetricAlarm(`${name}-drill-overdue`, rules.overdue, parent);
      const failed = new aws.cloudwatch.MetricAlarm(`${name}-drill-failed`, rules.failed, parent);
      new aws.cloudwatch.CompositeAlarm(
        `${name}-drill`,
        { ...rules.composite, alarmActions: [this.topic.arn], okActions: [this.topic.arn] },
        { ...parent, dependsOn: [overdue, failed] },
      );
      this.alarmNames.drill = rules.composite.alarmName;
    }
    if (args.referenceCheck) {
      const rule = referenceCheckAlarmRule({ appName: args.appName, namespace: args.namespace });
      new aws.cloudwatch.MetricAlarm(
        `${name}-reference-check`,
        { ...rule, alarmActions: [this.topic.arn], okActions: [this.topic.arn] },
        parent,
      );
      this.alarmNames.referenceCheck = rule.name;
    }
    this.registerOutputs({ topicArn: this.topic.arn, alarmNames: this.alarmNames });
  }
}
