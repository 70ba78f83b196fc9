/**
 * Stand-ins for what Vault holds, for runs without Vault (tests, `npm run plan`). Every value says
 * PLACEHOLDER; the keys come from tools/offline/placeholder-keys.ts.
 */
import { VAULT_KEYS } from "../../lib/secrets";
import type { PlaceholderKeys } from "./placeholder-keys";

export const PLACEHOLDER = "PLACEHOLDER";

export interface PlaceholderOptions {
  domain: string;
  relay: { host: string; port: number };
  probeMailbox: string;
}

/** Data of the two Vault paths, keyed like the real secrets. */
export function vaultPlaceholders(
  opts: PlaceholderOptions,
  keys: PlaceholderKeys,
): {
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
      [p.dkimPrivateKey]: keys.dkim2048,
      [p.saslPasswd]: `[${opts.relay.host}]:${opts.relay.port} ${PLACEHOLDER}-login:${PLACEHOLDER}-key`,
      [p.roundcubeDbPassword]: `${PLACEHOLDER}-roundcube-db`,
      [p.mailgunDkimTxt]: keys.mailgun1024,
    },
    personal: {
      [VAULT_KEYS.personal.mailgunApiKey]: `${PLACEHOLDER}-mailgun-api-key`,
      [VAULT_KEYS.personal.uptimeKumaPushUrl]: `https://uptime.invalid/api/push/${PLACEHOLDER}`,
    },
  };
}
