/**
 * fail2ban-disabled: docker-mailserver runs with ENABLE_FAIL2BAN explicitly "0".
 *
 * Why: CrowdSec is the single ban layer for SMTP/IMAP (it sees real client IPs through the
 * ETP-Local LoadBalancer). In-pod Fail2ban would race it from a second enforcement point, churn
 * iptables inside the container and split the audit trail (docs/architecture/mailserver.md,
 * "Fail2ban Disabled (CrowdSec is the Policy)"). The value must be explicit so the decision is
 * visible in code, not inherited from an image default that a future release could change.
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
  isDmsContainer,
  isWorkload,
  kindOf,
  nameOf,
  namespaceOf,
  podSpecOf,
} from "../lib/k8s";
import { at, list, PreviewGaps, toPlain, type Plain } from "../lib/plain";
import { dmsContainers, effectiveEnv, plainResources } from "../lib/stack";

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

function checkConfigMap(
  props: Plain,
  name: string,
  cfg: Config,
  report: ReportViolation,
  gaps: PreviewGaps,
): void {
  const ns = namespaceOf(props);
  const cmName = nameOf(props, name);
  if (gaps.check(ns) || gaps.check(cmName) || ns !== cfg.namespace) return;
  const value = at(props, "data", KEY);
  const isEnvMap = cfg.envConfigMaps.includes(cmName);
  if (!isEnvMap && value === undefined) return;
  if (gaps.check(value)) return;
  const where = `ConfigMap ${ns}/${cmName}`;
  if (value === undefined) {
    report(`${where} does not set ${KEY}; add ${KEY}: "0" so the decision is explicit. ${WHY}`);
  } else if (value !== "0") {
    report(`${where} sets ${KEY} to ${JSON.stringify(value)}; set it to "0". ${WHY}`);
  }
}

function checkWorkload(
  type: string,
  props: Plain,
  cfg: Config,
  report: ReportViolation,
  gaps: PreviewGaps,
): void {
  for (const c of containersOf(podSpecOf(type, props))) {
    const dms = isDmsContainer(c.container, cfg.dmsImage);
    if (gaps.check(dms) || !dms) continue;
    for (const entry of list(c.container.env)) {
      if (at(entry, "name") !== KEY) continue;
      const value = at(entry, "value");
      if (gaps.check(value)) continue;
      if (value === undefined || value === null) {
        report(
          `container ${c.name} takes ${KEY} from valueFrom; set the literal "0" so it can be audited. ${WHY}`,
        );
      } else if (value !== "0") {
        report(
          `container ${c.name} sets ${KEY} to ${JSON.stringify(value)}; set it to "0". ${WHY}`,
        );
      }
    }
  }
}

function validateResource(args: ResourceValidationArgs, report: ReportViolation): void {
  const cfg = readConfig<Config>(configSchema, args.getConfig());
  const gaps = new PreviewGaps();
  const props = toPlain(args.props);
  if (kindOf(args.type) === "ConfigMap") checkConfigMap(props, args.name, cfg, report, gaps);
  else if (isWorkload(args.type)) checkWorkload(args.type, props, cfg, report, gaps);
  gaps.settle();
}

/** Stack view: the effective value per container, which a single resource cannot show. */
function validateStack(args: StackValidationArgs, report: ReportViolation): void {
  const cfg = readConfig<Config>(configSchema, args.getConfig());
  const gaps = new PreviewGaps();
  const resources = plainResources(args.resources);
  for (const c of dmsContainers(resources, cfg.dmsImage, gaps)) {
    const v = effectiveEnv(resources, c, KEY);
    const who = `container ${c.container.name} of ${c.namespace}/${c.workloadName}`;
    if (v.kind === "unknown") {
      gaps.note(v.value, `${v.from} of ${who}`);
    } else if (v.kind === "missing") {
      const unresolved = v.unresolved.length
        ? ` (envFrom ConfigMaps not in this stack: ${v.unresolved.join(", ")})`
        : "";
      report(
        `${who} gets no ${KEY}${unresolved}; set ${KEY}: "0" in its env ConfigMap. ${WHY}`,
        c.workload.urn,
      );
    } else if (v.kind === "opaque") {
      report(
        `${who} takes ${KEY} from ${v.from}; set the literal "0" instead. ${WHY}`,
        c.workload.urn,
      );
    } else if (v.value !== "0" && !(c.namespace === cfg.namespace || v.from.startsWith("env of"))) {
      // Container env and ConfigMaps in the mail namespace are already reported per resource.
      report(
        `${who} gets ${KEY}=${JSON.stringify(v.value)} from ${v.from}; set "0". ${WHY}`,
        c.workload.urn,
      );
    }
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
