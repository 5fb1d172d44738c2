// A loopback TCP forwarder whose target can be switched: the rendered stack names one database
// address (as a Service would), and the test points it at the plain or the TLS cluster. It copies
// bytes only, so TLS passes through it untouched. No vitest imports.
import net from "node:net";

export interface Forwarder {
  port: number;
  /** Where new connections go from now on. */
  setTarget(port: number): void;
  /** The most client connections open at once so far (a client's requests in flight, at most). */
  peakConnections(): number;
  /** Closes the listener and every forwarded connection. */
  stop(): Promise<void>;
}

export async function startForwarder(host = "127.0.0.1"): Promise<Forwarder> {
  let target: number | undefined;
  const sockets = new Set<net.Socket>();
  let open = 0;
  let peak = 0;
  const track = (s: net.Socket): void => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  };
  const server = net.createServer((client) => {
    track(client);
    open += 1;
    peak = Math.max(peak, open);
    client.once("close", () => (open -= 1));
    if (target === undefined) return void client.destroy();
    const upstream = net.connect(target, host);
    track(upstream);
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, resolve);
  });
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("forwarder has no port");
  return {
    port: address.port,
    setTarget(port) {
      target = port;
    },
    peakConnections: () => peak,
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
