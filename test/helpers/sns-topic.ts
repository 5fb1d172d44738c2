// An SNS topic on the shared moto_server, and what was published to it, read back from moto's
// own record of the topic (its /moto-api/data.json model dump: sns.Topic.sent_notifications), so
// a test sees exactly the Publish calls the server accepted. No vitest imports.
import { randomBytes } from "node:crypto";
import { CreateTopicCommand, SNSClient } from "@aws-sdk/client-sns";
import { awsTestEnv } from "./moto.js";

export interface Published {
  subject: string | null;
  message: string;
  /** Message attributes by name, as moto keeps them. */
  attributes: Record<string, { Type: string; Value: string }>;
}

export interface TestTopic {
  arn: string;
  /** Environment for the runner: the topic, moto as SNS, dummy credentials. */
  env(): Record<string, string>;
  published(): Promise<Published[]>;
}

type SentNotification = [string, string, string | null, Published["attributes"] | null, string | null];

/** A new topic; `arn` makes the one a rendered stack names (moto's account, that region and name). */
export async function createTestTopic(endpoint: string, arn?: string): Promise<TestTopic> {
  const [, , , region, , named] = arn?.split(":") ?? [];
  const client = new SNSClient({
    endpoint,
    region: region ?? "us-east-1",
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
  });
  const name = named ?? `edms-runs-${Date.now().toString(36)}-${randomBytes(3).toString("hex")}`;
  const { TopicArn } = await client.send(new CreateTopicCommand({ Name: name }));
  if (!TopicArn || (arn && TopicArn !== arn)) throw new Error(`moto created ${TopicArn}, not ${arn ?? "a topic"}`);
  return {
    arn: TopicArn,
    env: () => ({ ...awsTestEnv(), RUN_SUMMARY_TOPIC_ARN: TopicArn, AWS_ENDPOINT_URL_SNS: endpoint }),
    async published() {
      const response = await fetch(`${endpoint}/moto-api/data.json`);
      if (!response.ok) throw new Error(`moto-api/data.json: HTTP ${response.status}`);
      const data = (await response.json()) as {
        sns?: { Topic?: Array<{ arn: string; sent_notifications: SentNotification[] }> };
      };
      const topic = data.sns?.Topic?.find((t) => t.arn === TopicArn);
      if (!topic) throw new Error(`moto has no topic ${TopicArn}`);
      return topic.sent_notifications.map(([, message, subject, attributes]) => ({
        subject,
        message,
        attributes: attributes ?? {},
      }));
    },
  };
}
