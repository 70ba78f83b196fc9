/**
 * Stand-ins for what Vault holds, for runs without Vault (tests, `npm run plan`). Every value says
 * PLACEHOLDER; keys are generated per process and never written to disk.
 */
import { generateKeyPairSync } from "node:crypto";
import { VAULT_KEYS } from "../lib/secrets";

export const PLACEHOLDER = "PLACEHOLDER";

let cached: { dkim2048: string; mailgun1024: string } | undefined;

/** Fresh RSA keys: a private PEM for Rspamd (2048) and a public DKIM record for Mailgun (1024). */
function keys(): { dkim2048: string; mailgun1024: string } {
  if (!cached) {
    const rspamd = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const mailgun = generateKeyPairSync("rsa", { modulusLength: 1024 });
    const mailgunDer = mailgun.publicKey.export({ type: "spki", format: "der" });
    cached = {
      dkim2048: rspamd.privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
      mailgun1024: `v=DKIM1; k=rsa; p=${mailgunDer.toString("base64")}`,
    };
  }
  return cached;
}

export interface PlaceholderOptions {
  domain: string;
  relay: { host: string; port: number };
  probeMailbox: string;
}

/** Data of the two Vault paths, keyed like the real secrets. */
export function vaultPlaceholders(opts: PlaceholderOptions): {
  platform: Record<string, string>;
  personal: Record<string, string>;
} {
  const p = VAULT_KEYS.platform;
  const { domain } = opts;
  const accounts = {
    [opts.probeMailbox]: `${PLACEHOLDER}-password-probe`,
    [`me@${domain}`]: `${PLACEHOLDER}-password-me`,
  };
  return {
    platform: {
      [p.accounts]: JSON.stringify(accounts),
      [p.aliases]: [`postmaster@${domain} me@${domain}`, `@${domain} ${opts.probeMailbox}`].join(
        "\n",
      ),
      [p.dkimPrivateKey]: keys().dkim2048,
      [p.saslPasswd]: `[${opts.relay.host}]:${opts.relay.port} ${PLACEHOLDER}-login:${PLACEHOLDER}-key`,
      [p.roundcubeDbPassword]: `${PLACEHOLDER}-roundcube-db`,
      [p.mailgunDkimTxt]: keys().mailgun1024,
      [p.brevoVerification]: `${PLACEHOLDER}brevocode`,
      [p.acmeDnsToken]: `${PLACEHOLDER}-cloudflare-dns-token`,
    },
    personal: {
      [VAULT_KEYS.personal.mailgunApiKey]: `${PLACEHOLDER}-mailgun-api-key`,
      [VAULT_KEYS.personal.uptimeKumaPushUrl]: `https://uptime.invalid/api/push/${PLACEHOLDER}`,
    },
  };
}
