/**
 * Lines gathered into chunks of about `limit` characters before they are written to a stream.
 * Written one a write, each line of a per-file stream costs a write(2) into a child's pipe (and a
 * wake-up of the child: the index's zstd) or a zlib job in the thread pool (the stat cache's
 * deflate): 5,000 of each for a 5,000-file backup. A chunk costs one for ~64 KiB of lines. Memory
 * stays one chunk: the stream's backpressure is awaited at every chunk.
 */
import { once } from "node:events";
import type { Writable } from "node:stream";

export class LineBatch {
  private parts: string[] = [];
  private length = 0;

  constructor(
    private readonly out: Writable,
    private readonly limit = 64 * 1024,
  ) {}

  /** Adds a line (its own "\n" included); resolves once the stream took any chunk it completed. */
  async add(line: string): Promise<void> {
    this.parts.push(line);
    this.length += line.length;
    if (this.length >= this.limit) await this.flush();
  }

  /** Writes what is gathered, waiting for the stream to drain when it asks to. */
  async flush(): Promise<void> {
    if (this.parts.length === 0) return;
    const chunk = this.parts.join("");
    this.parts = [];
    this.length = 0;
    if (!this.out.write(chunk)) await once(this.out, "drain");
  }

  /** Writes the rest and ends the stream. */
  async end(): Promise<void> {
    await this.flush();
    this.out.end();
  }
}
