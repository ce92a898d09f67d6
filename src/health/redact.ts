// Redaction of what a health payload may leak into logs and the HTTP API: values under credential-like keys,
// userinfo in URLs and DSNs, authorization headers, key=value secrets, JWTs and long random-looking tokens.
// It errs on the side of hiding: a payload is shown for display only.

export const REDACTED = '[redacted]';

const SECRET_WORDS = new Set([
  'password', 'passwd', 'pwd', 'pass', 'passphrase', 'secret', 'secrets', 'token', 'key', 'apikey', 'privatekey',
  'credential', 'credentials', 'auth', 'authorization', 'cookie', 'jwt', 'bearer', 'signature', 'dsn',
]);
const SECRET_JOINED = /(password|passwd|secret|token|apikey|privatekey|accesskey|credentials?|connectionstring|connstr)$/;

/** The words of a key: `dbPassword` → db, password; `API_KEY` → api, key; `x-auth-token` → x, auth, token. */
function words(key: string): string[] {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase().split(/[^a-z0-9]+/).filter(Boolean);
}

/**
 * A key whose value is a credential (dbPassword, api_key, Authorization, dsn, …). The last word decides:
 * tokenCount and secretName name something about a secret, not the secret.
 */
export function isSecretKey(key: string): boolean {
  const w = words(key);
  return SECRET_WORDS.has(w.at(-1) ?? '') || SECRET_JOINED.test(w.join(''));
}

const VALUE_RULES: Array<[RegExp, string | ((match: string) => string)]> = [
  // userinfo of any URL: postgres://app:hunter2@db:5432, https://ghp_x@github.com
  [/([a-z][a-z0-9+.-]*:\/\/)[^\s/@]+@/gi, `$1${REDACTED}@`],
  // a Go-style DSN without a scheme: user:pass@tcp(db:3306)/app
  [/^[^\s:@/]+:[^\s@/]+@/, `${REDACTED}@`],
  [/\b(Bearer|Basic|Token|Digest)\s+[A-Za-z0-9._~+/=-]{8,}/g, `$1 ${REDACTED}`],
  // key=value and key: value pairs in connection strings and messages
  [/\b(password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|client[_-]?secret)(\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s;&,"']+)/gi, `$1$2${REDACTED}`],
  [/\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g, REDACTED],
  [/\bAKIA[0-9A-Z]{16}\b/g, REDACTED],
  // long base64-ish strings with upper, lower and digits: random tokens (UUIDs and lowercase hex are left alone)
  [/[A-Za-z0-9+/_-]{32,}={0,2}/g, (m) => (/[a-z]/.test(m) && /[A-Z]/.test(m) && /[0-9]/.test(m) ? REDACTED : m)],
];

/** A string with every credential-looking part replaced by [redacted]. */
export function redactString(s: string): string {
  let out = s;
  for (const [re, to] of VALUE_RULES) out = typeof to === 'string' ? out.replace(re, to) : out.replace(re, to);
  return out;
}
