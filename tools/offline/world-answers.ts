/**
 * How the mocks answer from the recorded world: the cluster inventory the program lists, the
 * objects its `.get()`s read, and Vault's data in the owner's encoding. Every answer is a fact of
 * world/ passed through; nothing is shaped after what the program expects.
 */
import type {
  ClusterRead,
  InventoryReader,
  PoolLike,
  ServiceLike,
} from "../../lib/cluster-inventory";
import { facts, kubernetesObjects, type World } from "../world/load";

const isMap = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** What the program's cluster reader would return from the cluster the world records. */
export function worldInventory(world: World): InventoryReader {
  return (secrets) => {
    const objects = kubernetesObjects(world);
    const services = [...objects]
      .filter(([id]) => id.startsWith("kubernetes:core/v1:Service "))
      .map(([, obj]) => obj as ServiceLike);
    const pools = facts(world, "kubernetes")
      .filter((f) => f.id.startsWith("metallb.io/") && f.id.includes(":IPAddressPool "))
      .map((f) => f.value as PoolLike);
    const read: ClusterRead = {
      source: `world/${world.name}`,
      services,
      pools,
      secrets: secrets.map((ref) => {
        const obj = objects.get(`kubernetes:core/v1:Secret ${ref.namespace}/${ref.name}`);
        if (!obj) return { ...ref, present: false };
        const cert = isMap(obj.certificate) ? obj.certificate : {};
        return {
          ...ref,
          present: true,
          ...(typeof obj.type === "string" ? { type: obj.type } : {}),
          ...(Array.isArray(cert.dnsNames) ? { dnsNames: cert.dnsNames.map(String) } : {}),
          ...(typeof cert.notAfter === "string" ? { notAfter: cert.notAfter } : {}),
        };
      }),
    };
    return Promise.resolve(read);
  };
}

/** A Vault key as the world records it. */
export interface VaultKeyFact {
  mount: string;
  path: string;
  key: string;
  present: boolean | "unknown";
  encoding: "json-string" | "json-object" | "raw";
}

export function vaultFacts(world: World): VaultKeyFact[] {
  return facts(world, "vault")
    .map((f) => f.value)
    .filter((v): v is VaultKeyFact => isMap(v) && typeof v.key === "string");
}

/**
 * Vault's answer for a path: each key the world says the owner holds, with the placeholder value
 * stored the way the owner stores it. A key the world does not hold is absent, as in Vault.
 */
export function worldVaultData(
  world: World,
  mount: string,
  name: string,
  placeholders: Record<string, string>,
): Record<string, string> {
  const data: Record<string, string> = {};
  for (const k of vaultFacts(world)) {
    if (k.mount !== mount || k.path !== name || k.present !== true) continue;
    const raw = placeholders[k.key];
    if (raw === undefined) continue;
    data[k.key] = k.encoding === "json-string" ? JSON.stringify(raw) : raw;
  }
  return data;
}

/** A Vault key the program reads. */
export interface VaultRead {
  mount: string;
  path: string;
  key: string;
}

/** The keys the program reads that the world's Vault does not hold (present: false or unrecorded). */
export function absentVaultKeys(world: World, reads: VaultRead[]): VaultRead[] {
  const held = vaultFacts(world).filter((f) => f.present === true);
  return reads.filter(
    (r) => !held.some((f) => f.mount === r.mount && f.path === r.path && f.key === r.key),
  );
}

/** A DNS record of the zone the world records, in the fields Cloudflare's API returns. */
export interface ZoneRecordFact {
  type: string;
  name: string;
  content: string;
  priority?: number;
  proxied: boolean;
}

/** The zone's records (world/today/cloudflare.yaml `record ...` facts), as the API lists them. */
export function zoneRecords(world: World): ZoneRecordFact[] {
  return facts(world, "cloudflare")
    .filter((f) => f.id.startsWith("record "))
    .map((f) => {
      const v = f.value as Record<string, unknown>;
      return {
        type: String(v.type),
        name: String(v.name),
        content: String(v.content),
        ...(v.type === "MX" && typeof v.priority === "number" ? { priority: v.priority } : {}),
        proxied: v.proxied === true,
      };
    });
}
