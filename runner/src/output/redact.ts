/**
 * Removes secrets from anything the runner prints. Connection strings carry passwords
 * (postgres://user:secret@host), and libraries echo them back in their error messages.
 */
const URL_CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*):[^@/\s]*@/gi;
// age private keys, wherever they appear (an identity file's text in a library's message).
const AGE_SECRET_KEY = /AGE-SECRET-KEY-1[0-9A-Z]+/gi;
const KEY_VALUE_PASSWORD = /\b(password|passwd|pwd|secret|token)(\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s&;,]+)/gi;
// SQL option lists: OPTIONS (user 'u', password 'p') and CONNECTION '... password=p ...'.
const OPTION_PASSWORD = /\b(password|passwd|secret|token)(\s+)('(?:[^']|'')*'|"[^"]*")/gi;

export function redact(text: string, knownSecrets: readonly string[] = []): string {
  let out = text
    .replace(URL_CREDENTIALS, "$1:***@")
    .replace(KEY_VALUE_PASSWORD, "$1$2***")
    .replace(OPTION_PASSWORD, "$1$2***")
    .replace(AGE_SECRET_KEY, "AGE-SECRET-KEY-***");
  for (const secret of knownSecrets) {
    if (secret.length >= 3) out = out.split(secret).join("***");
  }
  return out;
}
