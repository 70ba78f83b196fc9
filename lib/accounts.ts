// ts-node loads no ambient files unless referenced; the shim gives unixcrypt's types to its resolver.
// eslint-disable-next-line @typescript-eslint/triple-slash-reference
/// <reference path="../types/unixcrypt.d.ts" />
/**
 * docker-mailserver account and alias files, rendered deterministically so that `pulumi preview`
 * shows no change while the Vault data is unchanged (the Terraform original hashed with a random
 * salt and had to ignore changes to the whole file).
 */
import { createHmac } from "node:crypto";

const CRYPT_ALPHABET = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const EMAIL = /^[^\s@|]+@[^\s@|]+\.[^\s@|]+$/;

/** Mailbox address → plain password, as stored in Vault (`mailserver_accounts`). */
export type Accounts = Record<string, string>;

/** Parses and checks the accounts JSON without ever echoing a password. */
export function parseAccounts(json: string, source: string): Accounts {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new Error(
      `${source}: expected a JSON object of "address": "password" (it is not valid JSON)`,
    );
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new Error(`${source}: expected a JSON object of "address": "password"`);
  }
  const problems: string[] = [];
  const accounts: Accounts = {};
  for (const [address, password] of Object.entries(parsed as Record<string, unknown>)) {
    if (!EMAIL.test(address)) problems.push(`"${address}" is not an email address`);
    if (typeof password !== "string" || password.length === 0) {
      problems.push(`the password of "${address}" is empty or not a string`);
    }
    accounts[address.toLowerCase()] = String(password);
  }
  if (Object.keys(accounts).length === 0) problems.push("no accounts");
  if (problems.length > 0) throw new Error(`${source}: ${problems.join("; ")}`);
  return accounts;
}

/**
 * A 16-character SHA512-CRYPT salt derived from the address and the password: stable while both
 * are unchanged, different for every account, and new whenever a password changes.
 */
export function deterministicSalt(address: string, password: string): string {
  const digest = createHmac("sha256", password).update(address).digest();
  return Array.from(digest.subarray(0, 16), (byte) => CRYPT_ALPHABET[byte % 64]).join("");
}

/** `postfix-accounts.cf`: one `address|{SHA512-CRYPT}$6$salt$hash` line per account, sorted. */
export async function renderPostfixAccounts(accounts: Accounts): Promise<string> {
  const { encrypt } = await import("unixcrypt");
  return (
    Object.keys(accounts)
      .sort()
      .map((address) => {
        const password = accounts[address];
        const hash = encrypt(password, `$6$${deterministicSalt(address, password)}`);
        return `${address}|{SHA512-CRYPT}${hash}`;
      })
      .join("\n") + "\n"
  );
}

/**
 * Whether a virtual-map line is kept. An alias from one real mailbox to another would give
 * Dovecot two userdb entries for the source ("exists more than once" on every login), so such
 * lines are dropped; aliases to outside addresses, to itself, and wildcards are kept.
 */
function keepAliasLine(line: string, mailboxes: ReadonlySet<string>): boolean {
  const [source, target, ...rest] = line.toLowerCase().split(/\s+/);
  const mailboxToMailbox =
    rest.length === 0 && source !== target && mailboxes.has(source) && mailboxes.has(target);
  return !mailboxToMailbox;
}

/** The non-blank, non-comment lines of a virtual-map text, trimmed. */
function aliasLines(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
}

/** `postfix-virtual.cf` from the Vault aliases, mailbox-to-mailbox lines dropped (keepAliasLine). */
export function renderVirtualAliases(aliases: string, accounts: Accounts): string {
  const mailboxes = new Set(Object.keys(accounts));
  const kept = aliasLines(aliases).filter((line) => keepAliasLine(line, mailboxes));
  return kept.length > 0 ? kept.join("\n") + "\n" : "";
}

/** An alias kept in the repository's config (`mailserver:mailserver.extraAliases`). */
export interface ExtraAlias {
  address: string;
  targets: string[];
  why: string;
}

/** One virtual-map line: `address target[,target...]` (two fields, as Postfix and DMS read it). */
export function extraAliasLine(alias: ExtraAlias): string {
  return `${alias.address} ${alias.targets.join(",")}`;
}

/** The mailboxes of a rendered `postfix-accounts.cf` (`address|hash` lines). */
export function mailboxesOf(postfixAccounts: string): Set<string> {
  return new Set(
    aliasLines(postfixAccounts)
      .map((line) => line.split("|")[0].toLowerCase())
      .filter((address) => address !== ""),
  );
}

/**
 * The rendered Vault aliases with the repository's aliases appended after them, the order of the
 * Terraform original (`format("%s%s", vault_aliases, file("extra/aliases.txt"))`, then one filter
 * over both): the same mailbox-to-mailbox filter applies to the appended lines, and what it drops
 * is returned so the caller can say so. A self-alias such as `docs@ docs@` is kept: it is what
 * stops an `@domain` catch-all from taking that mailbox's mail.
 */
export function withExtraAliases(
  virtual: string,
  extra: readonly ExtraAlias[],
  mailboxes: ReadonlySet<string>,
): { text: string; dropped: string[] } {
  const lines = extra.map(extraAliasLine);
  const kept = lines.filter((line) => keepAliasLine(line, mailboxes));
  const dropped = lines.filter((line) => !kept.includes(line));
  const base = virtual === "" || virtual.endsWith("\n") ? virtual : `${virtual}\n`;
  const text = kept.length > 0 ? `${base}${kept.join("\n")}\n` : base;
  return { text, dropped };
}
