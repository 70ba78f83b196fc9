import type { PolicyConfigSchema } from "@pulumi/policy";

/** Spec values (docs/architecture/mailserver.md); every policy's config defaults come from here. */
export const SPEC = {
  domain: "viktorbarzin.me",
  mailNamespace: "mailserver",
  mailHosts: ["mail.viktorbarzin.me"],
  loadBalancerIP: "10.0.20.202",
  relaySpfInclude: "spf.brevo.com",
  envConfigMaps: ["mailserver-env"],
  dmsImage: "docker-mailserver",
  crowdsecNamespace: "crowdsec",
  probeCronJobs: ["email-roundtrip-monitor"],
} as const;

/** Config of the policies that need only the mail domain. */
export const DOMAIN_SCHEMA: PolicyConfigSchema = {
  properties: {
    domain: { type: "string", default: SPEC.domain, description: "Mail domain" },
  },
};

/** How the policies that look at docker-mailserver containers recognise them. */
export const DMS_IMAGE_PROPERTY: PolicyConfigSchema["properties"] = {
  dmsImage: {
    type: "string",
    default: SPEC.dmsImage,
    description: "Image repository name that identifies docker-mailserver containers",
  },
};

/** Config that finds docker-mailserver's environment; shared by the policies that read it. */
export const DMS_ENV_SCHEMA_PROPERTIES: PolicyConfigSchema["properties"] = {
  namespace: { type: "string", default: SPEC.mailNamespace, description: "Mail namespace" },
  envConfigMaps: {
    type: "array",
    items: { type: "string" },
    default: [...SPEC.envConfigMaps],
    description: "ConfigMaps holding the docker-mailserver env (used via envFrom)",
  },
  ...DMS_IMAGE_PROPERTY,
};

/**
 * Config of the SPF policies: the zone, and the lookups hidden behind each include, which cannot be
 * resolved offline. spf-valid counts with these costs; spf-unresolved reports includes not listed.
 */
export const SPF_SCHEMA_PROPERTIES: PolicyConfigSchema["properties"] = {
  domain: { type: "string", default: SPEC.domain, description: "Zone of the records" },
  knownIncludeCosts: {
    type: "object",
    additionalProperties: { type: "integer" },
    // Assumed, not resolved offline: Brevo publishes address ranges directly (no nested lookups).
    default: { [SPEC.relaySpfInclude]: 0 },
    description: "Extra lookups hidden behind an include (its nested terms), by include domain",
  },
};

/** Config of the CrowdSec policies: where the acquisitions live and which mail logs they read. */
export const CROWDSEC_MAIL_SCHEMA: PolicyConfigSchema = {
  properties: {
    crowdsecNamespace: {
      type: "string",
      default: SPEC.crowdsecNamespace,
      description: "Namespace of the CrowdSec agent and its acquisition ConfigMaps",
    },
    ...DMS_IMAGE_PROPERTY,
    mailLogFiles: {
      type: "array",
      items: { type: "string" },
      default: ["/var/log/mail/mail.log"],
      description: "Paths of DMS's syslog-format mail log as the CrowdSec agent sees them",
    },
  },
};

export interface CrowdSecMailConfig {
  crowdsecNamespace: string;
  dmsImage: string;
  mailLogFiles: string[];
}

type JsonType = "string" | "number" | "integer" | "boolean" | "array" | "object";

function typeOf(value: unknown): JsonType | "null" {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value as JsonType;
}

function matches(value: unknown, type: JsonType): boolean {
  const actual = typeOf(value);
  return actual === type || (type === "number" && actual === "integer");
}

/**
 * Returns the policy's config with schema defaults applied. The CLI fills defaults before calling
 * Configure, but the SDK does not, and other callers (tests, offline tools) may not either.
 * Top-level types are checked so that a wrong config fails loudly instead of disabling a check.
 */
export function readConfig<T extends object>(schema: PolicyConfigSchema, given: object): T {
  const result: Record<string, unknown> = { ...given };
  for (const [key, prop] of Object.entries(schema.properties)) {
    if (result[key] === undefined && prop.default !== undefined) {
      result[key] = structuredClone(prop.default);
    }
    const value = result[key];
    const type = prop.type;
    if (value !== undefined && typeof type === "string" && !matches(value, type as JsonType)) {
      throw new Error(`policy config "${key}" must be ${type}, got ${typeOf(value)}`);
    }
  }
  return result as T;
}
