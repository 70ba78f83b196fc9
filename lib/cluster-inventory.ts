/**
 * What the preview must know of the live cluster that a `.get()` cannot tell: `.get()` needs a
 * name, and the question "who holds 10.0.20.202, or NodePort 30125?" has none. So the program
 * lists, once per run, through the Kubernetes API with the same kubeconfig the provider uses:
 * every Service (their MetalLB addresses, NodePorts, traffic policies), MetalLB's address pools,
 * and the Secrets the stack mounts but does not create (only their type, the names their
 * certificate covers and its expiry: never a key). The summary is published by the
 * ClusterPreflight component, where the policy pack judges it.
 */
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import type * as KubeClient from "@kubernetes/client-node" with { "resolution-mode": "import" };

/** A Service as it bears on address and port allocation. */
export interface ServiceHold {
  namespace: string;
  name: string;
  type: string;
  /** Addresses it asks MetalLB for or holds (annotations, spec.loadBalancerIP, status). */
  addresses: string[];
  /** MetalLB's `allow-shared-ip` key, when set. */
  sharingKey?: string;
  externalTrafficPolicy?: string;
  nodePorts: number[];
}

export interface AddressPool {
  name: string;
  addresses: string[];
}

/** A Secret the stack mounts, as far as the preview may know it. */
export interface SecretFacts {
  namespace: string;
  name: string;
  present: boolean;
  type?: string;
  /** DNS names of the certificate in `tls.crt`, when it holds one. */
  dnsNames?: string[];
  /** Its notAfter (ISO 8601); absent when unknown. */
  notAfter?: string;
}

export interface ClusterInventory {
  /** Where it was read: the kube API server, or a recorded world under mocks. */
  source: string;
  services: ServiceHold[];
  pools: AddressPool[];
  secrets: SecretFacts[];
}

export interface SecretRef {
  namespace: string;
  name: string;
}

/**
 * What a reader returns: the Service and IPAddressPool objects as the API server serves them, and
 * the Secrets already reduced to their facts (a Secret's data never leaves the reader).
 */
export interface ClusterRead {
  source: string;
  services: ServiceLike[];
  pools: PoolLike[];
  secrets: SecretFacts[];
}

export type InventoryReader = (secrets: SecretRef[]) => Promise<ClusterRead>;

const ADDRESS_ANNOTATIONS = ["metallb.io/loadBalancerIPs", "metallb.universe.tf/loadBalancerIPs"];
const SHARING_ANNOTATIONS = ["metallb.io/allow-shared-ip", "metallb.universe.tf/allow-shared-ip"];

export interface PoolLike {
  metadata?: { name?: string };
  spec?: { addresses?: string[] };
}

export interface ServiceLike {
  metadata?: { namespace?: string; name?: string; annotations?: Record<string, string> };
  spec?: {
    type?: string;
    loadBalancerIP?: string;
    externalTrafficPolicy?: string;
    ports?: { nodePort?: number }[];
  };
  status?: { loadBalancer?: { ingress?: { ip?: string }[] } };
}

/** The allocation-relevant part of a Service object, as the API server serves it. */
export function serviceHold(svc: ServiceLike): ServiceHold {
  const annotations = svc.metadata?.annotations ?? {};
  const asked = ADDRESS_ANNOTATIONS.flatMap((a) => (annotations[a] ?? "").split(","));
  const held = (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? "");
  const addresses = [...asked, svc.spec?.loadBalancerIP ?? "", ...held]
    .map((a) => a.trim())
    .filter((a, i, all) => a !== "" && all.indexOf(a) === i);
  const sharingKey = SHARING_ANNOTATIONS.map((a) => annotations[a]).find((k) => k);
  return {
    namespace: svc.metadata?.namespace ?? "",
    name: svc.metadata?.name ?? "",
    type: svc.spec?.type ?? "ClusterIP",
    addresses,
    ...(sharingKey ? { sharingKey } : {}),
    ...(svc.spec?.externalTrafficPolicy
      ? { externalTrafficPolicy: svc.spec.externalTrafficPolicy }
      : {}),
    nodePorts: (svc.spec?.ports ?? []).flatMap((p) => (p.nodePort ? [p.nodePort] : [])),
  };
}

/** The inventory the pack judges, from what a reader returned. */
export function summarise(read: ClusterRead): ClusterInventory {
  return {
    source: read.source,
    services: read.services.map(serviceHold),
    pools: read.pools.map((p) => ({
      name: p.metadata?.name ?? "",
      addresses: p.spec?.addresses ?? [],
    })),
    secrets: read.secrets,
  };
}

/** The certificate facts of a Secret's `tls.crt` (base64 PEM, as the API serves `data`). */
export function certificateFacts(tlsCrtBase64: string | undefined): {
  dnsNames?: string[];
  notAfter?: string;
} {
  if (!tlsCrtBase64) return {};
  try {
    const cert = new X509Certificate(Buffer.from(tlsCrtBase64, "base64"));
    const dnsNames = (cert.subjectAltName ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s.startsWith("DNS:"))
      .map((s) => s.slice(4));
    return { dnsNames, notAfter: new Date(cert.validTo).toISOString() };
  } catch {
    return {};
  }
}

/** The kubeconfig the Kubernetes provider would use: the stack's `kubernetes:kubeconfig`, else the default. */
function kubeConfig(
  client: typeof KubeClient,
  kubeconfig: string | undefined,
): KubeClient.KubeConfig {
  const kc = new client.KubeConfig();
  if (!kubeconfig) kc.loadFromDefault();
  else if (/^\s*(apiVersion|\{|kind|clusters)/.test(kubeconfig)) kc.loadFromString(kubeconfig);
  else kc.loadFromString(readFileSync(kubeconfig, "utf8"));
  return kc;
}

async function readSecret(core: KubeClient.CoreV1Api, ref: SecretRef): Promise<SecretFacts> {
  try {
    const s = await core.readNamespacedSecret({ namespace: ref.namespace, name: ref.name });
    return { ...ref, present: true, type: s.type, ...certificateFacts(s.data?.["tls.crt"]) };
  } catch (err) {
    if ((err as { code?: number }).code === 404) return { ...ref, present: false };
    throw err;
  }
}

/** Reads the inventory from the kube API server (client library loaded only here). */
export function kubeApiInventory(kubeconfig?: string): InventoryReader {
  return async (secrets) => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const client = require("@kubernetes/client-node") as typeof KubeClient;
    const kc = kubeConfig(client, kubeconfig);
    const core = kc.makeApiClient(client.CoreV1Api);
    const custom = kc.makeApiClient(client.CustomObjectsApi);
    const services = await core.listServiceForAllNamespaces({});
    const pools = (await custom.listClusterCustomObject({
      group: "metallb.io",
      version: "v1beta1",
      plural: "ipaddresspools",
    })) as { items?: PoolLike[] };
    return {
      source: `kube API ${kc.getCurrentCluster()?.server ?? "(unknown server)"}`,
      services: services.items,
      pools: pools.items ?? [],
      secrets: await Promise.all(secrets.map((ref) => readSecret(core, ref))),
    };
  };
}
