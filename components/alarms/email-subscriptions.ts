/**
 * Email subscriptions of an SNS topic (the alarms' topic, the run-summary topic), one per address.
 * Named by address, not position: removing one address must not replace the others (each
 * replacement sends a new confirmation email).
 */
import * as aws from "@pulumi/aws";
import type * as pulumi from "@pulumi/pulumi";

export function subscribeEmails(
  name: string,
  topic: aws.sns.Topic,
  emails: readonly string[],
  opts: pulumi.CustomResourceOptions,
): void {
  for (const email of emails) {
    new aws.sns.TopicSubscription(
      `${name}-email-${email}`,
      { topic: topic.arn, protocol: "email", endpoint: email },
      opts,
    );
  }
}
