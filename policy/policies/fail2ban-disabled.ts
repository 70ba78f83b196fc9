/**
 * fail2ban-disabled: docker-mailserver runs with ENABLE_FAIL2BAN explicitly "0".
 *
 * Why: CrowdSec is the single ban layer for SMTP/IMAP (it sees real client IPs through the
 * ETP-Local LoadBalancer). In-pod Fail2ban would race it from a second enforcement point, churn
 * iptables inside the container and split the audit trail (docs/architecture/mailserver.md,
 * "Fail2ban Disabled (CrowdSec is the Policy)"). The value must be explicit so the decision is
 * visible in code, not inherited from an image default that a future release could change.
 *
 * Invariant (effective state): every docker-mailserver container, in any workload kind, starts
 * with ENABLE_FAIL2BAN equal to the literal "0". Paths that set it: the container's `env`
 * (a later entry of the same name wins; `valueFrom` is opaque), `envFrom` ConfigMaps and Secrets
 * in order (later wins, `env` wins over all, a `prefix` is prepended to every key), and the
 * image default when nothing sets it. The verdict is taken per container from the stack; the
 * per-resource view only reports values unknown during preview.
 *
 * Fix: set ENABLE_FAIL2BAN: "0" in the mail env ConfigMap (envFrom) and do not override it in the
 * container env.
 */
import type {
  PolicyConfigSchema,
  ReportViolation,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  StackValidationArgs,
  StackValidationPolicy,
} from "@pulumi/policy";
import { DMS_ENV_SCHEMA_PROPERTIES, readConfig } from "../lib/config";
import {
  containersOf,
  hasKind,
  isDmsContainer,
  isWorkload,
  kindOf,
  nameOf,
  namespaceOf,
  podSpecOf,
} from "../lib/k8s";
import { at, list, PreviewGaps, toPlain, type Plain } from "../lib/plain";
import {
  dmsContainers,
  effectiveEnv,
  plainResources,
  type EnvSource,
  type EnvValue,
} from "../lib/stack";

const KEY = "ENABLE_FAIL2BAN";
export const WHY =
  'CrowdSec owns the ban policy for SMTP/IMAP; see docs/architecture/mailserver.md "Fail2ban Disabled (CrowdSec is the Policy)".';

const configSchema: PolicyConfigSchema = {
  properties: {
    ...DMS_ENV_SCHEMA_PROPERTIES,
  },
};

interface Config {
  namespace: string;
  envConfigMaps: string[];
  dmsImage: string;
}

/** Resource view: only values unknown during preview; the verdict needs the stack (below). */
function checkConfigMap(props: Plain, name: string, cfg: Config, gaps: PreviewGaps): void {
  const ns = namespaceOf(props);
  const cmName = nameOf(props, name);
  if (gaps.check(ns) || gaps.check(cmName) || ns !== cfg.namespace) return;
  gaps.check(at(props, "data", KEY));
}

function checkWorkload(type: string, props: Plain, cfg: Config, gaps: PreviewGaps): void {
  for (const c of containersOf(podSpecOf(type, props))) {
    const dms = isDmsContainer(c.container, cfg.dmsImage);
    if (gaps.check(dms) || !dms) continue;
    for (const entry of list(c.container.env)) {
      if (at(entry, "name") === KEY) gaps.check(at(entry, "value"));
    }
  }
}

function validateResource(args: ResourceValidationArgs): void {
  const cfg = readConfig<Config>(configSchema, args.getConfig());
  const gaps = new PreviewGaps();
  if (kindOf(args.type) === "ConfigMap") checkConfigMap(toPlain(args.props), args.name, cfg, gaps);
  else if (isWorkload(args.type)) checkWorkload(args.type, toPlain(args.props), cfg, gaps);
  gaps.settle();
}

function describe(source: EnvSource): string {
  switch (source.kind) {
    case "configMap": {
      const prefix = source.prefix
        ? ` (key ${source.key} under envFrom prefix ${source.prefix})`
        : "";
      return `ConfigMap ${source.name}${prefix}`;
    }
    case "secret":
      return `Secret ${source.name}${source.resource ? "" : " (not in this stack)"}`;
    case "valueFrom":
      return "a valueFrom reference";
    case "unresolved":
      return `envFrom ConfigMap ${source.name}, which this stack does not hold (cannot verify what it sets)`;
    case "env":
      return "its env";
  }
}

/** The violation for one container's effective value, or undefined when it is "0". */
function verdict(v: EnvValue, container: string, who: string): string | undefined {
  switch (v.kind) {
    case "unknown":
      return undefined;
    case "missing": {
      const consulted = v.consulted.map((r) => `ConfigMap ${r.name}`).join(", ");
      const none = consulted ? `: ${consulted} does not set ${KEY}` : "";
      return `${who} gets no ${KEY}${none}; add ${KEY}: "0" to its env ConfigMap so the decision is explicit.`;
    }
    case "opaque":
      return `${who} takes ${KEY} from ${describe(v.source)}, which cannot be audited; set the literal "0" instead.`;
    case "literal":
      if (v.value === "0") return undefined;
      if (v.source.kind === "env") {
        return `container ${container} sets ${KEY} to ${JSON.stringify(v.value)} in its env (${who}); set it to "0".`;
      }
      return `${who} takes ${KEY} from ${describe(v.source)}, which sets ${KEY} to ${JSON.stringify(v.value)}; set it to "0".`;
  }
}

/** The resource to change: the ConfigMap that sets the value or should set it. */
function fixAt(v: EnvValue): string | undefined {
  if (v.kind === "literal" && v.source.kind === "configMap") return v.source.resource.urn;
  if (v.kind === "missing") return v.consulted[0]?.urn;
  return undefined;
}

/** The effective value per docker-mailserver container (env over envFrom, later over earlier). */
function validateStack(args: StackValidationArgs, report: ReportViolation): void {
  const cfg = readConfig<Config>(configSchema, args.getConfig());
  const gaps = new PreviewGaps();
  // Pod specs of any kind, and the ConfigMaps and Secrets their envFrom names.
  const resources = plainResources(args.resources, hasKind);
  for (const c of dmsContainers(resources, cfg.dmsImage, gaps)) {
    const v = effectiveEnv(resources, c, KEY);
    const who = `container ${c.container.name} of ${c.namespace}/${c.workloadName}`;
    if (v.kind === "unknown") gaps.note(v.value, who);
    const problem = verdict(v, c.container.name, who);
    if (problem) report(`${problem} ${WHY}`, fixAt(v) ?? c.workload.urn);
  }
  gaps.settle();
}

export const fail2banDisabled: ResourceValidationPolicy & StackValidationPolicy = {
  name: "fail2ban-disabled",
  description:
    'docker-mailserver must run with ENABLE_FAIL2BAN explicitly "0": CrowdSec is the ban policy.',
  enforcementLevel: "mandatory",
  configSchema,
  validateResource,
  validateStack,
};
