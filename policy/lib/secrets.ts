/** Heuristics for secrets written as plain literals. Never return or log the value itself. */

const SECRET_NAME =
  /(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL|(^|_)PW$|(^|_)PASS$|DNPASS)/i;
/** Names that point at a secret rather than hold one. */
const REFERENCE_NAME = /(_PATH|_FILE|_DIR|_URL|_URI|_HOST|_PORT|_USER|_NAME)$/i;

const SECRET_VALUES: [RegExp, string][] = [
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----/, "a PEM private key"],
  [/\bxsmtpsib-[0-9a-f]{20,}/i, "a Brevo SMTP key (xsmtpsib-)"],
  [/\bxkeysib-[0-9a-f]{20,}/i, "a Brevo API key (xkeysib-)"],
  [/\bkey-[0-9a-f]{32}\b/i, "a Mailgun API key (key-...)"],
  [/^\[[^\]]+\]:\d+\s+\S+:\S+/m, "relay SASL credentials ([host]:port user:pass)"],
];

/** Why the literal `value` under `name` looks like a secret, or undefined. */
export function secretReason(name: string, value: string): string | undefined {
  for (const [re, what] of SECRET_VALUES) if (re.test(value)) return `the value looks like ${what}`;
  const v = value.trim();
  if (v === "" || REFERENCE_NAME.test(name) || !SECRET_NAME.test(name)) return undefined;
  // Paths, env references and switches are configuration, not secrets.
  // $(VAR) is Kubernetes' own expansion of another env var in args/command/env.
  const reference = /^\$(\{[A-Z_][A-Z0-9_]*\}|\([A-Z_][A-Z0-9_]*\)|[A-Z_][A-Z0-9_]*)$/i;
  if (v.startsWith("/") || reference.test(v) || /^(0|1|true|false|yes|no)$/i.test(v)) {
    return undefined;
  }
  return "its name says it is a secret";
}

/** Why one command-line word (or `--name=value` / `--name value` pair) looks like a secret. */
export function argSecretReason(word: string, next: string | undefined): string | undefined {
  const flag = /^--?([A-Za-z][\w-]*)(?:=(.*))?$/s.exec(word);
  if (flag) {
    const name = (flag[1] ?? "").replace(/-/g, "_");
    const value = flag[2] ?? (next !== undefined && !next.startsWith("-") ? next : undefined);
    if (value !== undefined) return secretReason(name, value);
  }
  return secretReason("", word);
}
