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
    roundcubeDbPassword: "roundcubemail_db_password",
    mailgunDkimTxt: "mailserver_mailgun_dkim_txt",
    brevoVerification: "mailserver_brevo_verification",
    // Cloudflare API token (Zone:DNS:Edit + Zone:Zone:Read on the zone) for the ACME DNS-01 solver.
    acmeDnsToken: "mailserver_acme_cloudflare_token",
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
  /** Cloudflare token the ACME DNS-01 solver writes `_acme-challenge` TXT records with. */
  acmeDnsToken: pulumi.Output<string>;
  /** Published DNS data kept in Vault because the spec only shows it truncated. */
  mailgunDkimTxt: pulumi.Output<string>;
  brevoVerification: pulumi.Output<string>;
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

/** A key of a Vault secret; a missing key fails the update with the path and key, never a value. */
function field(data: VaultData, path: VaultPath, key: string): pulumi.Output<string> {
  return data.apply((d) => {
    const value = d[key];
    if (typeof value !== "string" || value === "") {
      throw new Error(`Vault ${path.mount}/${path.name}: key "${key}" is missing or empty`);
    }
    return value;
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
    acmeDnsToken: pulumi.secret(field(platform, args.platform, p.acmeDnsToken)),
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
    brevoVerification: pulumi.unsecret(field(platform, args.platform, p.brevoVerification)),
  };
}
