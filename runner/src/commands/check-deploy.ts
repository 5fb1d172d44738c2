/**
 * `check-deploy`: what a deployment must prove on day 0 instead of at its first drill a week
 * later (the stack runs it as a Job on `pulumi up`, components/schedule/deploy-check.ts):
 *
 * - identity: the private key drills and restores decrypt with (AGE_IDENTITY_FILE, the identity
 *   Secret) opens what backups encrypt. A random challenge is encrypted by the age binary to
 *   every ENCRYPTION_RECIPIENTS entry, exactly as a backup is, and must decrypt with the identity
 *   to the same bytes. Every recipient cannot be proven: by design one of them is an offline key
 *   kept in a safe (docs/DEPLOY.md "Encryption"), whose private half is nowhere near the cluster.
 *   So the check proves that the identity is one of the recipients, and names the recipients it
 *   is not, so the operator can see that exactly the offline ones are left over.
 * - restore role: the role restores connect as (database.restoreRole) holds every privilege a
 *   restore of the live database needs: the restore's own preflight
 *   (restore/restore-privileges.ts), run without restoring anything.
 *
 * Each check says what it proved or what is wrong and what to do; the run fails (exit 1) when any
 * check failed, after all of them ran.
 */
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { openIdentity, type IdentitySettings } from "../encryption/identity.js";
import { errorMessage } from "../errors.js";
import { safeName } from "../output/format.js";
import type { PgConnection } from "../pg/connection.js";
import { withAdminClient } from "../restore/database-staging.js";
import { missingRestorePrivileges, restorePrivilegeMessage } from "../restore/restore-privileges.js";
import { encryptStream } from "../stages/age-encrypt.js";
import { decryptStream, NO_IDENTITY_MATCHED } from "../stages/age-decrypt.js";

export type DeployCheckName = "identity" | "restore-role";

export interface DeployCheckResult {
  check: DeployCheckName;
  ok: boolean;
  /** What was proved, or what is wrong and what to do. */
  message: string;
}

const IDENTITY_ADVICE =
  "put the private key of one of the recipients in the identity Secret " +
  "(kubectl -n <namespace> create secret generic <encryption.identitySecret.name> --from-file=identity=key.txt), " +
  "or add its public key (age-keygen -y key.txt) to encryption.recipients, then run pulumi up again";

/** Encrypts a random challenge to `recipients` with age and decrypts it with the identity file. */
async function roundTrip(recipients: readonly string[], identityFile: string): Promise<boolean> {
  const challenge = randomBytes(32);
  const encrypted = encryptStream(Readable.from([challenge]), recipients);
  const decrypted = decryptStream(encrypted.stream, identityFile);
  const [plain] = await Promise.all([buffer(decrypted.stream), encrypted.exited, decrypted.exited]);
  return plain.equals(challenge);
}

export async function checkIdentity(
  recipients: readonly string[] | undefined,
  identity: IdentitySettings | undefined,
): Promise<DeployCheckResult> {
  const check = "identity";
  if (!recipients)
    return {
      check,
      ok: true,
      message: "encryption is off (no ENCRYPTION_RECIPIENTS): sets are protected by the bucket's SSE-KMS only",
    };
  const list = recipients.join(", ");
  if (!identity)
    return {
      check,
      ok: false,
      message:
        `backups are encrypted to ${list}, but no identity is given (AGE_IDENTITY_FILE; in the cluster ` +
        `encryption.identitySecret): the drill and in-cluster restores could not decrypt any of them; ${IDENTITY_ADVICE}`,
    };
  const open = await openIdentity(identity);
  try {
    const held = open.recipients.join(", ");
    let decrypts: boolean;
    try {
      decrypts = await roundTrip(recipients, open.file);
    } catch (error) {
      // age says "no identity matched any of the recipients"; any other failure is said as it is.
      decrypts = false;
      if (!NO_IDENTITY_MATCHED.test(errorMessage(error)))
        return {
          check,
          ok: false,
          message: `could not encrypt to ${list} and decrypt with ${identity.source}: ${errorMessage(error)}`,
        };
    }
    if (!decrypts)
      return {
        check,
        ok: false,
        message:
          `${identity.source} (public key ${held}) cannot decrypt backups: they are encrypted to ${list}, and it is none ` +
          `of them, so no drill or restore could read a set made from now on; ${IDENTITY_ADVICE}`,
      };
    const others = recipients.filter((r) => !open.recipients.includes(r));
    return {
      check,
      ok: true,
      message:
        `${identity.source} (public key ${held}) decrypts a challenge encrypted to every recipient (${list})` +
        (others.length
          ? `; ${others.join(", ")} cannot be proven here (its private key is not in the cluster: keep it where docs/RUNBOOK.md "Total loss" expects it)`
          : ""),
    };
  } finally {
    await open.close();
  }
}

/** The restore's own privilege preflight on the live database, without restoring. */
export async function checkRestoreRole(connection: PgConnection): Promise<DeployCheckResult> {
  const check = "restore-role";
  const target = connection.database;
  try {
    const { role, missing } = await withAdminClient(
      connection,
      (client) => missingRestorePrivileges(client, connection, target),
      [target],
    );
    if (missing.length)
      return {
        check,
        ok: false,
        message: restorePrivilegeMessage(role, target, missing, "checked before any restore; nothing was changed"),
      };
    return {
      check,
      ok: true,
      message: `the role ${safeName(role)} can restore database ${safeName(target)} (create, rename and own it, set its objects' owners)`,
    };
  } catch (error) {
    return { check, ok: false, message: `cannot check the restore role: ${errorMessage(error)}` };
  }
}

export async function runDeployChecks(settings: {
  database: PgConnection;
  recipients?: readonly string[];
  identity?: IdentitySettings;
}): Promise<DeployCheckResult[]> {
  return [await checkIdentity(settings.recipients, settings.identity), await checkRestoreRole(settings.database)];
}
