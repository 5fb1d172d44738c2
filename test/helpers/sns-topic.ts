// An SNS topic on the shared moto_server, and what was published to it, read the way a subscriber
// reads it: an SQS queue subscribed to the topic receives every message SNS delivers (the standard
// JSON envelope: Message, Subject, MessageAttributes). No vitest imports.
// (moto's /moto-api/data.json dump also lists a topic's messages, but it answers 500 once another
// test has left a model it cannot serialise; a subscribed queue is the real delivery path anyway.)
import { randomBytes } from "node:crypto";
import { CreateTopicCommand, SNSClient, SubscribeCommand } from "@aws-sdk/client-sns";
import { CreateQueueCommand, DeleteMessageCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { awsTestEnv } from "./moto.js";

export interface Published {
  subject: string | null;
  message: string;
  /** Message attributes by name, as the SNS envelope carries them. */
  attributes: Record<string, { Type: string; Value: string }>;
}

export interface TestTopic {
  arn: string;
  /** Environment for the runner: the topic, moto as SNS, dummy credentials. */
  env(): Record<string, string>;
  /** Everything delivered so far, in order (each call adds what arrived since the last). */
  published(): Promise<Published[]>;
}

interface Envelope {
  Type: string;
  Message: string;
  Subject?: string;
  MessageAttributes?: Published["attributes"];
}

/** A new topic; `arn` makes the one a rendered stack names (moto's account, that region and name). */
export async function createTestTopic(endpoint: string, arn?: string): Promise<TestTopic> {
  const [, , , region = "us-east-1", account, named] = arn?.split(":") ?? [];
  const config = { endpoint, region, credentials: { accessKeyId: "test", secretAccessKey: "test" } };
  const sns = new SNSClient(config);
  const sqs = new SQSClient(config);
  const suffix = `${Date.now().toString(36)}-${randomBytes(3).toString("hex")}`;
  const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: named ?? `edms-runs-${suffix}` }));
  if (!TopicArn || (arn && TopicArn !== arn)) throw new Error(`moto created ${TopicArn}, not ${arn ?? "a topic"}`);
  const queueName = `edms-runs-inbox-${suffix}`;
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: queueName }));
  const queueArn = `arn:aws:sqs:${region}:${account ?? TopicArn.split(":")[4]}:${queueName}`;
  await sns.send(new SubscribeCommand({ TopicArn, Protocol: "sqs", Endpoint: queueArn }));
  const received: Published[] = [];
  return {
    arn: TopicArn,
    env: () => ({ ...awsTestEnv(), RUN_SUMMARY_TOPIC_ARN: TopicArn, AWS_ENDPOINT_URL_SNS: endpoint }),
    async published() {
      for (;;) {
        const batch = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10 }));
        if (!batch.Messages?.length) return [...received];
        for (const m of batch.Messages) {
          const envelope = JSON.parse(m.Body ?? "{}") as Envelope;
          if (envelope.Type === "Notification")
            received.push({
              subject: envelope.Subject ?? null,
              message: envelope.Message,
              attributes: envelope.MessageAttributes ?? {},
            });
          await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: m.ReceiptHandle }));
        }
      }
    },
  };
}
