/**
 * The SDK's "Could not load credentials from any providers" says nothing about where credentials
 * come from: this sentence does, for the pods and for a laptop.
 */
export const CREDENTIALS_HINT =
  "no AWS credentials were found: in the cluster they come from the pod's service account (IRSA: the ServiceAccount's eks.amazonaws.com/role-arn annotation; EKS Pod Identity: the association and the agent add-on; see docs/DEPLOY.md); outside it, set AWS_PROFILE (after `aws sso login`) or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, and check with `aws sts get-caller-identity`";

/** Whether the SDK failed for want of credentials (before any request was sent). */
export function isMissingCredentials(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return error.name === "CredentialsProviderError" || /could not load credentials/i.test(error.message);
}

/** The error itself, or the hint (keeping the SDK's error as the cause) when credentials were missing. */
export function withCredentialsHint(error: unknown): unknown {
  return isMissingCredentials(error) ? new Error(CREDENTIALS_HINT, { cause: error }) : error;
}
