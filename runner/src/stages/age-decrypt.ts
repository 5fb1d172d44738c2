/**
 * Decryption as a stream stage: `age --decrypt` with an identity file. age checks each 64 KiB
 * chunk's tag before releasing it and refuses a file whose last chunk is missing, so a flipped
 * byte or a truncation fails the stream; the restore only swaps in what was read to the end.
 */
import type { Readable } from "node:stream";
import type { ChildSource } from "./child-source.js";
import { spawnChildFilter } from "./child-filter.js";
import { AGE_BINARY } from "./age-encrypt.js";

/** What age prints when none of the identities can open the file's header. */
export const NO_IDENTITY_MATCHED = /no identity matched any of the recipients/;

export function decryptStream(input: Readable, identityFile: string): ChildSource {
  return spawnChildFilter(AGE_BINARY, ["--decrypt", "--identity", identityFile], input, {
    label: "age --decrypt",
  });
}
