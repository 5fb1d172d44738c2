/**
 * Recipients are checked with the age binary itself before a byte is streamed: the contract's
 * pattern catches typos and the post-quantum kind, age catches a bad bech32 checksum, and a
 * missing age binary is found before pg_dump starts rather than halfway through.
 */
import { Readable } from "node:stream";
import { ConfigError, errorMessage } from "../errors.js";
import { encryptStream } from "../stages/age-encrypt.js";

export async function checkRecipients(recipients: readonly string[]): Promise<void> {
  const probe = encryptStream(Readable.from([]), recipients);
  try {
    probe.stream.resume();
    await probe.exited;
  } catch (error) {
    throw new ConfigError([`ENCRYPTION_RECIPIENTS (--encrypt-to): age refused them: ${errorMessage(error)}`]);
  }
}

/** The recipients of a comma-separated ENCRYPTION_RECIPIENTS value (already validated). */
export function splitRecipients(value: string | undefined): string[] | undefined {
  return value ? value.split(",").map((r) => r.trim()) : undefined;
}
