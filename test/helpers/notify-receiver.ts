// A local stand-in for healthchecks.io and a webhook receiver: records every request in arrival
// order. `failFirst` answers the first N requests with 503 (to exercise retries).
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { CloudWatchClient } from "@aws-sdk/client-cloudwatch";

export interface Received {
  method: string;
  path: string;
  body: string;
}

export interface Receiver {
  url: string;
  requests: Received[];
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<string> {
  let body = "";
  for await (const chunk of req) body += String(chunk);
  return body;
}

export async function startReceiver(options: { failFirst?: number; answer?: number } = {}): Promise<Receiver> {
  const requests: Received[] = [];
  let failuresLeft = options.failFirst ?? 0;
  const server: Server = createServer((req, res) => {
    void readBody(req).then((body) => {
      if (failuresLeft > 0) {
        failuresLeft--;
        res.writeHead(503).end("try later");
        return;
      }
      requests.push({ method: req.method ?? "", path: req.url ?? "", body });
      res.writeHead(options.answer ?? 200, { "content-type": "text/plain" }).end("OK");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A port nothing listens on: bind, note the port, close. */
export async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

/** A CloudWatch client on moto (which serves every service on one port). */
export function testCloudWatch(endpoint: string): CloudWatchClient {
  return new CloudWatchClient({
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
  });
}
