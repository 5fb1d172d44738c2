// A private certificate authority made at test time with the openssl CLI (the same tool an operator
// would use), and certificates it signs: a server certificate for a TLS PostgreSQL and a client
// certificate for `cert` authentication. No vitest imports.
import { chmod, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { run } from "./exec.js";

export interface Issued {
  certFile: string;
  keyFile: string;
}

export interface TestCa extends Issued {
  /** Signs a certificate with this CA. `subjectAltName` e.g. "DNS:localhost"; omit for a client cert. */
  issue(name: string, subject: string, subjectAltName?: string): Promise<Issued>;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  const r = await run("openssl", args, { cwd, timeoutMs: 30_000 });
  if (r.code !== 0)
    throw new Error(
      `openssl ${args[0]} failed (${r.code}): ${r.stderr.trim()}; install it: apt-get install -y openssl`,
    );
}

/** A self-signed CA in `dir` (files `<name>.crt`, `<name>.key`), valid for a day. */
export async function makeTestCa(dir: string, name: string): Promise<TestCa> {
  const ca: Issued = { certFile: join(dir, `${name}.crt`), keyFile: join(dir, `${name}.key`) };
  await openssl(
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "1",
      "-subj",
      `/CN=${name}`,
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
      "-keyout",
      ca.keyFile,
      "-out",
      ca.certFile,
    ],
    dir,
  );
  return {
    ...ca,
    async issue(certName, subject, subjectAltName) {
      const out: Issued = { certFile: join(dir, `${certName}.crt`), keyFile: join(dir, `${certName}.key`) };
      const csr = join(dir, `${certName}.csr`);
      const ext = join(dir, `${certName}.ext`);
      await openssl(
        [
          "req",
          "-newkey",
          "ec",
          "-pkeyopt",
          "ec_paramgen_curve:prime256v1",
          "-nodes",
          "-subj",
          subject,
          "-keyout",
          out.keyFile,
          "-out",
          csr,
        ],
        dir,
      );
      await writeFile(
        ext,
        subjectAltName
          ? `subjectAltName=${subjectAltName}\nextendedKeyUsage=serverAuth\n`
          : "extendedKeyUsage=clientAuth\n",
      );
      await openssl(
        [
          "x509",
          "-req",
          "-in",
          csr,
          "-CA",
          ca.certFile,
          "-CAkey",
          ca.keyFile,
          "-CAcreateserial",
          "-days",
          "1",
          "-extfile",
          ext,
          "-out",
          out.certFile,
        ],
        dir,
      );
      // libpq refuses a private key that group or others can read.
      await chmod(out.keyFile, 0o600);
      return out;
    },
  };
}
