/**
 * The one place that reads Vault. Every value leaves here as a typed `pulumi.secret` output, except
 * the public DNS data that is derived from or stored beside the secrets.
 */
import { createPublicKey } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import * as vault from "@pulumi/vault";
import { parseAccounts, renderPostfixAccounts, renderVirtualAliases } from "./accounts";
import type { MailServerConfig, ProbeConfig, VaultPath } from "./config";

/** Where each secret lives: the spec's Vault table, plus the keys this stack added (docs/secrets.md). */
export const VAULT_KEYS = {
  platform: {
    accounts: "mailserver_accounts",
    aliases: "mailserver_aliases",
    dkimPrivateKey: "mailserver_opendkim_key",
    saslPasswd: "mailserver_sasl_passwd",
    roundcubeDbPassword: "mailserver_roundcubemail_db_password",
    mailgunDkimTxt: "mailserver_mailgun_dkim_txt",
  },
  personal: {
    mailgunApiKey: "mailgun_api_key",
    uptimeKumaPushUrl: "uptime_kuma_mail_push_url",
  },
} as const;

export interface MailSecrets {
  /** `postfix-accounts.cf`, hashed deterministically. */
  postfixAccounts: pulumi.Output<string>;
  /** `postfix-virtual.cf`. */
  postfixVirtual: pulumi.Output<string>;
  /** `postfix-sasl-password.cf`: `[relay]:port login:key`, checked against the configured relay. */
  relaySaslPassword: pulumi.Output<string>;
  dkimPrivateKey: pulumi.Output<string>;
  /** Base64 SubjectPublicKeyInfo of the DKIM key: public, so not a secret. */
  dkimPublicKey: pulumi.Output<string>;
  roundcubeDbPassword: pulumi.Output<string>;
  mailgunApiKey: pulumi.Output<string>;
  probeImapPassword: pulumi.Output<string>;
  uptimeKumaPushUrl: pulumi.Output<string>;
  /** Published DNS data kept in Vault because the spec only shows it truncated. */
  mailgunDkimTxt: pulumi.Output<string>;
}

export interface SecretsArgs {
  platform: VaultPath;
  personal: VaultPath;
  /** See lib/config.ts (vault.skipChildToken): the token from the environment is used as is. */
  skipChildToken: boolean;
  relay: MailServerConfig["relay"];
  probe: Pick<ProbeConfig, "imapUser">;
}

type VaultData = pulumi.Output<Record<string, string>>;

function readPath(path: VaultPath, provider: vault.Provider): VaultData {
  return vault.kv.getSecretV2Output({ mount: path.mount, name: path.name }, { provider }).data;
}

/**
 * How the owner stores each key (ViktorBarzin/infra stacks/mailserver/main.tf:15-18 `jsondecode`s
 * four of them): `json-string` is a JSON string literal (a PEM key or a text file, quoted, `\n`
 * escaped), `json-object` a JSON object, `raw` the value itself. world/today/vault.yaml records
 * the owner's side; tests/world/vault.test.ts holds the two together.
 */
export const VAULT_ENCODING: Record<string, "json-string" | "json-object" | "raw"> = {
  [VAULT_KEYS.platform.accounts]: "json-object",
  [VAULT_KEYS.platform.aliases]: "json-string",
  [VAULT_KEYS.platform.dkimPrivateKey]: "json-string",
  [VAULT_KEYS.platform.saslPasswd]: "json-string",
};

/**
 * A value as the owner's Terraform decodes it. A value not in that encoding fails with the path and
 * key and what was expected, never the value.
 */
export function decodeVaultValue(value: string, key: string, where: string): string {
  if (VAULT_ENCODING[key] !== "json-string") return value;
  let decoded: unknown;
  try {
    decoded = JSON.parse(value);
  } catch {
    decoded = undefined;
  }
  if (typeof decoded !== "string" || decoded === "") {
    throw new Error(
      `${where}: expected a JSON string literal (quoted, newlines as \\n), as the owner's Terraform jsondecode()s it; the stored value is not one (value not shown)`,
    );
  }
  return decoded;
}

/** A key of a Vault secret, decoded; a missing key fails with the path and key, never a value. */
function field(data: VaultData, path: VaultPath, key: string): pulumi.Output<string> {
  return data.apply((d) => {
    const value = d[key];
    const where = `Vault ${path.mount}/${path.name} key "${key}"`;
    if (typeof value !== "string" || value === "") {
      throw new Error(`${where} is missing or empty`);
    }
    return decodeVaultValue(value, key, where);
  });
}

/** The relay credentials line must name exactly the relay Postfix uses, or Postfix never sends them. */
export function checkSaslLine(
  line: string,
  relay: MailServerConfig["relay"],
  source: string,
): string {
  const expected = `[${relay.host}]:${relay.port}`;
  const [host, credentials, ...rest] = line.trim().split(/\s+/);
  if (host !== expected || !credentials?.includes(":") || rest.length > 0) {
    throw new Error(`${source}: expected one line "${expected} <login>:<key>" (value not shown)`);
  }
  return `${host} ${credentials}\n`;
}

export function dkimPublicKeyOf(privateKeyPem: string): string {
  return createPublicKey(privateKeyPem).export({ type: "spki", format: "der" }).toString("base64");
}

export function readMailSecrets(args: SecretsArgs): MailSecrets {
  // An explicit provider, so the child-token decision is in the program, not in each operator's
  // environment. Address and token still come from VAULT_ADDR and VAULT_TOKEN (Pulumi ESC).
  const provider = new vault.Provider("vault", { skipChildToken: args.skipChildToken });
  const platform = readPath(args.platform, provider);
  const personal = readPath(args.personal, provider);
  const p = VAULT_KEYS.platform;
  const where = (key: string) => `Vault ${args.platform.mount}/${args.platform.name} ${key}`;

  const accounts = field(platform, args.platform, p.accounts).apply((json) =>
    parseAccounts(json, where(p.accounts)),
  );
  const dkimPrivateKey = pulumi.secret(field(platform, args.platform, p.dkimPrivateKey));
  return {
    postfixAccounts: pulumi.secret(accounts.apply(renderPostfixAccounts)),
    postfixVirtual: pulumi.secret(
      pulumi
        .all([field(platform, args.platform, p.aliases), accounts])
        .apply(([aliases, acc]) => renderVirtualAliases(aliases, acc)),
    ),
    relaySaslPassword: pulumi.secret(
      field(platform, args.platform, p.saslPasswd).apply((line) =>
        checkSaslLine(line, args.relay, where(p.saslPasswd)),
      ),
    ),
    dkimPrivateKey,
    dkimPublicKey: pulumi.unsecret(dkimPrivateKey.apply(dkimPublicKeyOf)),
    roundcubeDbPassword: pulumi.secret(field(platform, args.platform, p.roundcubeDbPassword)),
    mailgunApiKey: pulumi.secret(field(personal, args.personal, VAULT_KEYS.personal.mailgunApiKey)),
    uptimeKumaPushUrl: pulumi.secret(
      field(personal, args.personal, VAULT_KEYS.personal.uptimeKumaPushUrl),
    ),
    probeImapPassword: pulumi.secret(
      accounts.apply((acc) => {
        const password = acc[args.probe.imapUser.toLowerCase()];
        if (!password) {
          throw new Error(
            `${where(p.accounts)}: no account for the probe mailbox ${args.probe.imapUser}`,
          );
        }
        return password;
      }),
    ),
    mailgunDkimTxt: pulumi.unsecret(field(platform, args.platform, p.mailgunDkimTxt)),
  };
}
