/**
 * The run-summary topic (stack config runSummary): backups and drills publish one message each to
 * it, success or failure (runner/src/notify/run-summary.ts), and it mails them to the subscribed
 * addresses. Apart from the alarms' topic: that one is CloudWatch's to publish to and says when
 * something is wrong; this one says how every run went, and the runner may publish only here.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { subscribeEmails } from "./email-subscriptions.js";

export interface RunSummaryTopicArgs {
  appName: string;
  emails: string[];
}

export class RunSummaryTopic extends pulumi.ComponentResource {
  readonly topic: aws.sns.Topic;

  constructor(name: string, args: RunSummaryTopicArgs, opts?: pulumi.ComponentResourceOptions) {
    super("edms-backup:notify:RunSummaryTopic", name, {}, opts);
    const parent = { parent: this };
    this.topic = new aws.sns.Topic(
      `${name}-topic`,
      // The display name is the mail's sender name.
      { namePrefix: `${args.appName}-backup-runs-`, displayName: `${args.appName} backup runs` },
      parent,
    );
    subscribeEmails(name, this.topic, args.emails, parent);
    this.registerOutputs({ topicArn: this.topic.arn });
  }
}
