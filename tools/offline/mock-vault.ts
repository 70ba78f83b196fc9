/**
 * The mocked Vault: each read answered with the keys the world's Vault holds at that path
 * (world/<world>/vault.yaml), each value a placeholder from tools/offline/placeholders.ts.
 */
import type { PlaceholderKeys } from "./placeholder-keys";
import { vaultPlaceholders } from "./placeholders";
import { PROJECT } from "../cli/project";
import { worldVaultData, type VaultRead } from "./world-answers";
import { loadWorld, type World } from "../world/load";

/** The data a read of `mount`/`name` returns. */
export type VaultAnswer = (mount: string, name: string) => Record<string, string>;

/**
 * Vault answered from the world: the keys the owner holds at each path (world/today/vault.yaml),
 * each a placeholder derived from the config the run uses, stored in the owner's encoding.
 */
export function placeholderVault(
  config: Record<string, string>,
  keys: PlaceholderKeys,
  world: World = loadWorld("today"),
  /** Keys answered although the world lacks them (the plan reports them as blockers). */
  fill: VaultRead[] = [],
): VaultAnswer {
  const get = (key: string): unknown => JSON.parse(config[`${PROJECT}:${key}`] ?? "null");
  const domain = config[`${PROJECT}:domain`] ?? "example.org";
  const mail = get("mailserver") as { relay?: { host: string; port: number } } | null;
  const monitoring = get("monitoring") as { probe?: { imapUser?: string } } | null;
  const data = vaultPlaceholders(
    {
      domain,
      relay: mail?.relay ?? { host: "relay.invalid", port: 587 },
      probeMailbox: monitoring?.probe?.imapUser ?? `probe@${domain}`,
    },
    keys,
  );
  const all = { ...data.platform, ...data.personal };
  return (mount, name) => ({
    ...Object.fromEntries(
      fill
        .filter((k) => k.mount === mount && k.path === name && k.key in all)
        .map((k) => [k.key, all[k.key]]),
    ),
    ...worldVaultData(world, mount, name, all),
  });
}
