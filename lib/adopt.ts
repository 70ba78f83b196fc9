/**
 * Adoption of the objects the Terraform stacks made: which resources of this program hold state
 * and are imported (`import` resource option) instead of created, their URNs and the import IDs
 * they must carry. One plan serves the program (`index.ts`) and `npm run adopt` (tools/cli/adopt.ts).
 *
 * Since pulumi/pulumi#19339 (CLI 3.270 here) an import no longer fails when the program's inputs
 * differ from the live object: the engine imports, then plans an update to the program's inputs
 * (pulumi/docs#18198). Properties in `ignoreChanges` keep their live values in that update, so an
 * adopted resource is imported with the drift-prone properties ignored, and the next `pulumi up`
 * without `mailserver:adopt` converges them in place. Identity is never ignored: the preview must
 * show no `~` on it and no replace (docs/cutover.md, step 9).
 */
import type * as pulumi from "@pulumi/pulumi";
import { COMPONENT_TYPE } from "./component-types";
import type { StackConfig } from "./config";
import { mailDnsPlanArgs, planMailDns, type PlannedRecord } from "./dns-plan";

/** Logical names of the stateful components in `index.ts`; URNs are built from them. */
export const COMPONENTS = {
  mail: { name: "mailserver", type: COMPONENT_TYPE.mail },
  webmail: { name: "webmail", type: COMPONENT_TYPE.webmail },
  dns: { name: "dns", type: COMPONENT_TYPE.dns },
} as const;

export const TYPES = {
  namespace: "kubernetes:core/v1:Namespace",
  pvc: "kubernetes:core/v1:PersistentVolumeClaim",
  service: "kubernetes:core/v1:Service",
  dnsRecord: "cloudflare:index/dnsRecord:DnsRecord",
} as const;

/**
 * Properties copied from the live object during the import (never sent to it): labels and
 * annotations other controllers stamp (Kyverno, Keel, pvc-autoresizer), and the DNS fields the
 * program sets differently on purpose (its comment, the new DMARC and MTA-STS values).
 */
export const IMPORT_IGNORE: Record<string, string[]> = {
  [TYPES.namespace]: ["metadata.labels", "metadata.annotations"],
  [TYPES.pvc]: ["metadata.labels", "metadata.annotations"],
  [TYPES.service]: ["metadata.labels", "metadata.annotations"],
  [TYPES.dnsRecord]: ["content", "comment", "ttl", "proxied", "tags"],
};

export interface AdoptTarget {
  urn: string;
  type: string;
  /** Import ID: `<ns>/<name>` or `<name>` for Kubernetes; the zone decides it for DNS records. */
  importId?: string;
  record?: PlannedRecord;
}

/** The URN the engine gives a child of a top-level component (the stack is not in the chain). */
export function childUrn(
  stack: string,
  project: string,
  parentType: string,
  type: string,
  name: string,
): string {
  return `urn:pulumi:${stack}::${project}::${parentType}$${type}::${name}`;
}

/** Every resource the program adopts when an ID is given for it. */
export function adoptTargets(config: StackConfig, stack: string, project: string): AdoptTarget[] {
  const urn = (c: { type: string }, type: string, name: string) =>
    childUrn(stack, project, c.type, type, name);
  const ns = config.namespace;
  const pvc = (c: { type: string }, logical: string, claim: string): AdoptTarget => ({
    urn: urn(c, TYPES.pvc, logical),
    type: TYPES.pvc,
    importId: `${ns}/${claim}`,
  });
  const service = (logical: string, live: string): AdoptTarget => ({
    urn: urn(COMPONENTS.mail, TYPES.service, logical),
    type: TYPES.service,
    importId: `${ns}/${live}`,
  });
  return [
    {
      urn: urn(COMPONENTS.mail, TYPES.namespace, `${COMPONENTS.mail.name}-namespace`),
      type: TYPES.namespace,
      importId: ns,
    },
    pvc(COMPONENTS.mail, `${COMPONENTS.mail.name}-data`, config.mailserver.storage.name),
    pvc(COMPONENTS.webmail, `${COMPONENTS.webmail.name}-html`, config.webmail.htmlStorage.name),
    pvc(COMPONENTS.webmail, `${COMPONENTS.webmail.name}-enigma`, config.webmail.enigmaStorage.name),
    // The Services keep serving through the swap of the pod behind them (docs/cutover.md).
    service(`${COMPONENTS.mail.name}-service`, "mailserver"),
    ...(config.mailserver.proxy
      ? [service(`${COMPONENTS.mail.name}-proxy-service`, "mailserver-proxy")]
      : []),
    ...planMailDns(mailDnsPlanArgs(config)).records.map((record) => ({
      urn: urn(COMPONENTS.dns, TYPES.dnsRecord, `${COMPONENTS.dns.name}-${record.key}`),
      type: TYPES.dnsRecord,
      record,
    })),
  ];
}

/** Problems of a `mailserver:adopt` map, one line each, in the config error format. */
export function checkAdoptMap(
  adopt: Record<string, string>,
  targets: AdoptTarget[],
  key: (urn: string) => string,
): string[] {
  const byUrn = new Map(targets.map((t) => [t.urn, t]));
  const problems: string[] = [];
  for (const [urn, id] of Object.entries(adopt)) {
    const target = byUrn.get(urn);
    if (!target) {
      problems.push(
        `${key(urn)} = ${JSON.stringify(id)}: not a resource this program adopts (namespace, the three PVCs, the two mail Services, the mail DNS records); regenerate the map with npm run adopt`,
      );
    } else if (target.importId !== undefined && id !== target.importId) {
      problems.push(
        `${key(urn)} = ${JSON.stringify(id)}: expected ${JSON.stringify(target.importId)}, the object this program declares`,
      );
    } else if (target.type === TYPES.dnsRecord && !/^[0-9a-f]{32}\/[0-9a-f]{32}$/.test(id)) {
      problems.push(
        `${key(urn)} = ${JSON.stringify(id)}: expected <zoneId>/<recordId> (32 hex digits each)`,
      );
    }
  }
  return problems;
}

/** Resource options of one child: `import` plus the import-time ignores, or nothing. */
export type Adopt = (
  parentType: string,
  type: string,
  name: string,
) => Pick<pulumi.CustomResourceOptions, "import" | "ignoreChanges">;

export function adopter(adopt: Record<string, string>, stack: string, project: string): Adopt {
  return (parentType, type, name) => {
    const id = adopt[childUrn(stack, project, parentType, type, name)];
    return id === undefined ? {} : { import: id, ignoreChanges: IMPORT_IGNORE[type] ?? [] };
  };
}

/** Nothing adopted: for components built outside the program (tests, other stacks). */
export const adoptNothing: Adopt = () => ({});

/** The claim size: the pvc-autoresizer grows it and a claim cannot shrink (never converged). */
export const PVC_SIZE_IGNORE = ["spec.resources.requests.storage"];

/** Adoption options with the claim size ignored as well. */
export function withSizeIgnored(
  opts: ReturnType<Adopt>,
): ReturnType<Adopt> & { ignoreChanges: string[] } {
  return { ...opts, ignoreChanges: [...(opts.ignoreChanges ?? []), ...PVC_SIZE_IGNORE] };
}
