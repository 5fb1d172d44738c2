// A forwarding proxy in front of moto_server that refuses chosen S3 operations the way S3 does
// (403 AccessDenied, or 501 NotImplemented as some S3-compatible stores answer operations they
// lack), and forwards everything else byte for byte. For tests of what the runner does when a
// store refuses one call. Why not moto's own IAM enforcement: moto 5.2.1 computes a different
// SigV4 signature for any query value holding "/" (every prefixed listing the runner makes), so a
// backup cannot run under it at all. It also logs the operations it recognises, forwarded or not,
// so a test can count requests (HeadObject, PutObjectRetention) the runner made, and the prefix of
// every listing begun (how many times a run listed the store's content objects).
import { createServer, request, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export type S3Operation = "ListMultipartUploads" | "AbortMultipartUpload" | "PutObjectRetention" | "HeadObject";

export interface Refusal {
  operation: S3Operation;
  status: 403 | 501;
}

function operationOf(req: IncomingMessage): S3Operation | undefined {
  const query = new URL(req.url ?? "/", "http://x").searchParams;
  if (req.method === "GET" && query.has("uploads")) return "ListMultipartUploads";
  if (req.method === "DELETE" && query.has("uploadId")) return "AbortMultipartUpload";
  if (req.method === "PUT" && query.has("retention")) return "PutObjectRetention";
  if (req.method === "HEAD") return "HeadObject";
  return undefined;
}

const ERRORS = {
  403: { code: "AccessDenied", message: "Access Denied" },
  501: { code: "NotImplemented", message: "A header you provided implies functionality that is not implemented" },
} as const;

export interface RefusingS3 {
  endpoint: string;
  /** What the proxy refused so far, in order. */
  refused: S3Operation[];
  /** Every recognised operation so far (refused or forwarded), with its path, in order. */
  seen: Array<{ operation: S3Operation; path: string }>;
  /** The prefix of every listing begun (a ListObjectsV2 without a continuation token), in order. */
  listings: string[];
  close(): Promise<void>;
}

export interface ProxyOptions {
  /**
   * Holds the answer of each successful PutObject (a PUT of an object, not of its retention or a
   * part) this long: the object is stored, the runner hears so later, as over a slow network.
   */
  delayStoredAnswersMs?: number;
  /**
   * Drops If-None-Match from every request: a store whose conditional writes are not atomic (moto
   * checks, then writes: two PutObjects of one key at once can both succeed), at its worst.
   */
  dropConditions?: boolean;
}

export async function refusingS3(
  target: string,
  refusals: readonly Refusal[],
  options: ProxyOptions = {},
): Promise<RefusingS3> {
  const upstream = new URL(target);
  const refused: S3Operation[] = [];
  const seen: RefusingS3["seen"] = [];
  const listings: string[] = [];
  const server: Server = createServer((req, res) => {
    const operation = operationOf(req);
    const query = new URL(req.url ?? "/", "http://x").searchParams;
    if (req.method === "GET" && query.get("list-type") === "2" && !query.has("continuation-token"))
      listings.push(query.get("prefix") ?? "");
    if (operation) seen.push({ operation, path: decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname) });
    const refusal = refusals.find((r) => r.operation === operation);
    if (operation && refusal) {
      refused.push(operation);
      const { code, message } = ERRORS[refusal.status];
      req.resume();
      res.writeHead(refusal.status, { "content-type": "application/xml", "x-amz-request-id": "REFUSED" });
      res.end(
        `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>REFUSED</RequestId></Error>`,
      );
      return;
    }
    const headers = { ...req.headers };
    if (options.dropConditions) delete headers["if-none-match"];
    const forward = request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers },
      (answer) => {
        const answerNow = () => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        };
        const putObject = req.method === "PUT" && query.get("x-id") === "PutObject";
        if (options.delayStoredAnswersMs && putObject && answer.statusCode === 200)
          setTimeout(answerNow, options.delayStoredAnswersMs);
        else answerNow();
      },
    );
    forward.on("error", () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    refused,
    seen,
    listings,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
