// The JavaScript age implementation (age-encryption on npm) encrypting files the way a stream
// stage in the runner would: one streaming Encrypter per file, to /dev/null, one after the other.
// Measured by bench/run.ts against the `age` binary on the same files (BENCHMARKS.md, "Encryption").
//   node bench/age-js-encrypt.mjs <recipient> <file>...
import { createReadStream } from "node:fs";
import { Readable } from "node:stream";
import { Encrypter } from "age-encryption";

const [recipient, ...files] = process.argv.slice(2);
for (const file of files) {
  const e = new Encrypter();
  e.addRecipient(recipient);
  const sealed = await e.encrypt(Readable.toWeb(createReadStream(file)));
  let bytes = 0;
  for await (const chunk of Readable.fromWeb(sealed)) bytes += chunk.length;
  process.stderr.write(`${file}: ${bytes} bytes of ciphertext\n`);
}
