/**
 * Generative corpus: for each policy, fast-check arbitraries over the field paths and resource
 * kinds through which its invariant can change (docs/policies.md lists them). A violating
 * variant must be reported by its policy at the given level; a legitimate variant must leave the
 * whole pack without a mandatory finding. Every variant starts from the good stack.
 */
import fc from "fast-check";
import type { AnalyzerResource } from "../../tools/analyzer/client";
import {
  configMap,
  dkimContent,
  dkimSecret,
  DKIM_VOLUMES,
  ed25519Key,
  dmsContainer,
  goodStack,
  mailEnv,
  mailService,
  mtaStsId,
  mtaStsPolicy,
  probeCronJob,
  pvc,
  record,
  rsaPublicKey,
  T,
  sidecar,
} from "./fixtures";

export interface Variant {
  policy: string;
  /** violation: `policy` reports at `level`; clean: no policy reports at mandatory level. */
  expect: "violation" | "clean";
  level: "mandatory" | "advisory";
  title: string;
  stack: AnalyzerResource[];
}

export interface Family {
  policy: string;
  violating: fc.Arbitrary<Variant>;
  legit: fc.Arbitrary<Variant>;
}

const D = "viktorbarzin.me";
const NS = "mailserver";
/** Generated, never a real key. */
const FAKE_BREVO_KEY = `xsmtpsib-${"0f9e".repeat(16)}-${"7a6b".repeat(4)}`;

// ---------------------------------------------------------------------------------------------
// Building blocks

/** Every token under which @pulumi/kubernetes 4.34.2 expresses a workload, by pod-spec location. */
export const WORKLOAD_TYPES = [
  "kubernetes:apps/v1:Deployment",
  "kubernetes:apps/v1beta1:Deployment",
  "kubernetes:apps/v1beta2:Deployment",
  "kubernetes:extensions/v1beta1:Deployment",
  "kubernetes:apps/v1:StatefulSet",
  "kubernetes:apps/v1beta2:StatefulSet",
  "kubernetes:apps/v1:DaemonSet",
  "kubernetes:extensions/v1beta1:DaemonSet",
  "kubernetes:apps/v1:ReplicaSet",
  "kubernetes:core/v1:ReplicationController",
  "kubernetes:core/v1:Pod",
  "kubernetes:batch/v1:Job",
  "kubernetes:batch/v1:CronJob",
  "kubernetes:batch/v1beta1:CronJob",
] as const;
const workloadType = fc.constantFrom(...WORKLOAD_TYPES);

/** A workload of `type` running `podSpec`, named so the mail pod's log glob still matches. */
export function workload(
  type: string,
  name: string,
  namespace: string,
  podSpec: Record<string, unknown>,
): AnalyzerResource {
  const labels = { app: name };
  const kind = type.split(":")[2];
  const podName = kind === "Pod" ? `${name}-0` : name;
  const metadata = { name: podName, namespace, labels };
  const template = { metadata: { labels }, spec: podSpec };
  let spec: Record<string, unknown>;
  if (kind === "Pod") spec = podSpec;
  else if (kind === "CronJob")
    spec = { schedule: "0 3 * * *", jobTemplate: { spec: { template } } };
  else if (kind === "Job" || kind === "ReplicationController") spec = { template };
  else spec = { selector: { matchLabels: labels }, template };
  return { type, name, properties: { metadata, spec } };
}

export function mailPodSpec(containers: Record<string, unknown>[]): Record<string, unknown> {
  return {
    containers,
    volumes: [
      ...DKIM_VOLUMES,
      { name: "data", persistentVolumeClaim: { claimName: "mailserver-data-proxmox" } },
    ],
  };
}

/** Replaces resources named like those in `add` (same type) and appends the others. */
export function replace(add: AnalyzerResource[], drop: string[] = []): AnalyzerResource[] {
  const keys = new Set(add.map((r) => `${r.type}/${r.name}`));
  const rest = goodStack().filter(
    (r) => !keys.has(`${r.type}/${r.name}`) && !drop.includes(r.name),
  );
  return [...rest, ...add];
}

function envConfigMap(data: Record<string, unknown>, name = "mailserver-env"): AnalyzerResource {
  return configMap(name, NS, data);
}

export const variant =
  (policy: string, expect: Variant["expect"], level: Variant["level"] = "mandatory") =>
  (title: string, stack: AnalyzerResource[]): Variant => ({ policy, expect, level, title, stack });

/** Toggles the case of characters by a generated pattern (DNS names, SPF terms, DMARC tags). */
const caseMix = fc.array(fc.boolean(), { minLength: 1, maxLength: 16 });
function mixCase(text: string, pattern: boolean[]): string {
  return [...text]
    .map((ch, i) => (pattern[i % pattern.length] ? ch.toUpperCase() : ch.toLowerCase()))
    .join("");
}

/** TXT content as one bare string or as quoted strings cut at generated positions. */
const txtSplit = fc.option(fc.array(fc.integer({ min: 1, max: 400 }), { maxLength: 4 }));
function splitTxt(text: string, cuts: number[] | null): string {
  if (cuts === null) return text;
  const points = [...new Set(cuts.map((c) => c % text.length))]
    .filter((c) => c > 0)
    .sort((a, b) => a - b);
  const parts: string[] = [];
  let start = 0;
  for (const p of [...points, text.length]) {
    for (let i = start; i < p; i += 255) parts.push(text.slice(i, Math.min(p, i + 255)));
    start = p;
  }
  return parts.map((p) => `"${p}"`).join(" ");
}

const apexName = fc.constantFrom(D, "@", `${D}.`, D.toUpperCase());
const recordType = fc.constantFrom(T.dnsRecord, T.legacyRecord);
const sep = fc.constantFrom(" ", "  ", "   ");

function txtRecord(name: string, fqdn: string, content: string, type: string): AnalyzerResource {
  return record(name, { name: fqdn, type: "TXT", content }, type);
}

/**
 * A violating variant of the TXT record `name` at `fqdn`: the text of case `how`; the case
 * "second record" keeps the valid text and adds the older record `old` at the same name.
 */
function txtViolation(
  policy: string,
  name: string,
  fqdn: string,
  old: string,
): (how: string, texts: Record<string, string>) => Variant {
  return (how, texts) => {
    const text = texts[how] ?? "";
    const extra = how === "second record" ? [txtRecord(`${name}-old`, fqdn, old, T.dnsRecord)] : [];
    return variant(policy, "violation")(
      `${how}: ${text}`,
      replace([txtRecord(name, fqdn, text, T.dnsRecord), ...extra]),
    );
  };
}

// ---------------------------------------------------------------------------------------------
// fail2ban-disabled

const F2B = "ENABLE_FAIL2BAN";
const onValue = fc.constantFrom("1", "true", "yes", " 1", "01");

const fail2ban: Family = {
  policy: "fail2ban-disabled",
  violating: fc
    .tuple(
      workloadType,
      onValue,
      fc.constantFrom(
        "env ConfigMap",
        "container env",
        "later env entry",
        "later envFrom ConfigMap",
        "prefixed envFrom ConfigMap",
        "valueFrom configMapKeyRef",
        "envFrom Secret",
        "later envFrom ConfigMap outside the stack",
        "optional envFrom ConfigMap outside the stack",
        "missing",
      ),
    )
    .map(([type, value, path]) => {
      const v = variant("fail2ban-disabled", "violation");
      const cm = mailEnv();
      const base = [{ configMapRef: { name: "mailserver-env" } }];
      let dms: Record<string, unknown> = dmsContainer();
      const extra: AnalyzerResource[] = [];
      switch (path) {
        case "env ConfigMap":
          cm[F2B] = value;
          break;
        case "container env":
          dms = dmsContainer({ env: [{ name: F2B, value }] });
          break;
        case "later env entry":
          dms = dmsContainer({
            env: [
              { name: F2B, value: "0" },
              { name: F2B, value },
            ],
          });
          break;
        case "later envFrom ConfigMap":
          dms = dmsContainer({ envFrom: [...base, { configMapRef: { name: "dms-tuning" } }] });
          extra.push(configMap("dms-tuning", NS, { [F2B]: value }));
          break;
        case "prefixed envFrom ConfigMap":
          dms = dmsContainer({
            envFrom: [...base, { prefix: "ENABLE_", configMapRef: { name: "dms-switches" } }],
          });
          extra.push(configMap("dms-switches", NS, { FAIL2BAN: value }));
          break;
        case "valueFrom configMapKeyRef":
          dms = dmsContainer({
            env: [
              { name: F2B, valueFrom: { configMapKeyRef: { name: "dms-tuning", key: "f2b" } } },
            ],
          });
          extra.push(configMap("dms-tuning", NS, { f2b: value }));
          break;
        case "envFrom Secret":
          dms = dmsContainer({ envFrom: [...base, { secretRef: { name: "dms-extra" } }] });
          extra.push(secretResource("dms-extra", { [F2B]: value }));
          break;
        // A ConfigMap only the cluster holds may set any key (the value drawn is not used):
        // Kubernetes applies envFrom in order, so it overrides the "0" before it.
        case "later envFrom ConfigMap outside the stack":
          dms = dmsContainer({ envFrom: [...base, { configMapRef: { name: "dms-cluster" } }] });
          break;
        case "optional envFrom ConfigMap outside the stack":
          dms = dmsContainer({
            envFrom: [...base, { configMapRef: { name: "dms-cluster", optional: true } }],
          });
          break;
        case "missing":
          delete cm[F2B];
          break;
      }
      const stack = replace([envConfigMap(cm), ...extra]).filter(
        (r) => r.name !== "mailserver" || r.type !== T.deployment,
      );
      return v(`${path} = ${JSON.stringify(value)} in ${type}`, [
        ...stack,
        workload(type, "mailserver", NS, mailPodSpec([dms])),
      ]);
    }),
  legit: fc
    .tuple(
      workloadType,
      fc.constantFrom(
        "env ConfigMap",
        "container env over a ConfigMap without the key",
        "later envFrom ConfigMap overrides",
        "container env overrides a later ConfigMap",
        "prefixed envFrom ConfigMap",
        "envFrom Secret without the key",
      ),
    )
    .map(([type, path]) => {
      const v = variant("fail2ban-disabled", "clean");
      const cm = mailEnv();
      const base = [{ configMapRef: { name: "mailserver-env" } }];
      let dms: Record<string, unknown> = dmsContainer();
      const extra: AnalyzerResource[] = [];
      switch (path) {
        case "container env over a ConfigMap without the key":
          delete cm[F2B];
          dms = dmsContainer({ env: [{ name: F2B, value: "0" }] });
          break;
        case "later envFrom ConfigMap overrides":
          cm[F2B] = "1";
          dms = dmsContainer({ envFrom: [...base, { configMapRef: { name: "dms-decisions" } }] });
          extra.push(configMap("dms-decisions", NS, { [F2B]: "0" }));
          break;
        case "container env overrides a later ConfigMap":
          dms = dmsContainer({
            envFrom: [...base, { configMapRef: { name: "dms-tuning" } }],
            env: [{ name: F2B, value: "0" }],
          });
          extra.push(configMap("dms-tuning", NS, { [F2B]: "1" }));
          break;
        case "prefixed envFrom ConfigMap":
          delete cm[F2B];
          dms = dmsContainer({
            envFrom: [...base, { prefix: "ENABLE_", configMapRef: { name: "dms-switches" } }],
          });
          extra.push(configMap("dms-switches", NS, { FAIL2BAN: "0" }));
          break;
        case "envFrom Secret without the key":
          dms = dmsContainer({ envFrom: [...base, { secretRef: { name: "dms-relay" } }] });
          extra.push(secretResource("dms-relay", { RELAY_USER: "relay", RELAY_PASSWORD: "x" }));
          break;
      }
      const stack = replace([envConfigMap(cm), ...extra]).filter(
        (r) => r.name !== "mailserver" || r.type !== T.deployment,
      );
      return v(`${path} in ${type}`, [
        ...stack,
        workload(type, "mailserver", NS, mailPodSpec([dms])),
      ]);
    }),
};

export function secretResource(name: string, stringData: Record<string, string>): AnalyzerResource {
  return {
    type: "kubernetes:core/v1:Secret",
    name,
    properties: { metadata: { name, namespace: NS }, type: "Opaque", stringData },
  };
}

// ---------------------------------------------------------------------------------------------
// mail-service-etp-local

const smtpPort = fc.constantFrom(
  { port: 25, targetPort: 25 },
  { port: 25, targetPort: "smtp" },
  { port: 2525, targetPort: 25 },
  { port: 25 },
  { port: 10025, targetPort: "smtp" },
);

function service(
  name: string,
  spec: Record<string, unknown>,
  annotations: Record<string, string> | undefined,
  namespace = NS,
): AnalyzerResource {
  const svc = mailService(spec, annotations);
  const props = svc.properties as { metadata: Record<string, unknown> };
  props.metadata = { ...props.metadata, name, namespace };
  if (annotations === undefined) delete props.metadata.annotations;
  return { ...svc, name };
}

const etpLocal: Family = {
  policy: "mail-service-etp-local",
  violating: fc
    .tuple(
      fc.constantFrom("mailserver", "mailserver-smtp"),
      smtpPort,
      fc.constantFrom(
        "ETP Cluster",
        "ETP unset",
        "NodePort",
        "wrong IP",
        "no IP annotation",
        "spec.loadBalancerIP",
        "legacy annotation with another IP",
        "submission port via ETP Cluster",
      ),
    )
    .map(([name, port, how]) => {
      const v = variant("mail-service-etp-local", "violation");
      let spec: Record<string, unknown> = { ports: [{ name: "smtp", ...port }] };
      let ann: Record<string, string> | undefined = { "metallb.io/loadBalancerIPs": "10.0.20.202" };
      if (how === "ETP Cluster") spec.externalTrafficPolicy = "Cluster";
      if (how === "ETP unset") spec.externalTrafficPolicy = undefined;
      if (how === "NodePort") spec.type = "NodePort";
      if (how === "wrong IP") ann = { "metallb.io/loadBalancerIPs": "10.0.20.200" };
      if (how === "no IP annotation") ann = { "metallb.io/address-pool": "default" };
      if (how === "spec.loadBalancerIP") spec.loadBalancerIP = "10.0.20.202";
      if (how === "legacy annotation with another IP")
        ann = { "metallb.universe.tf/loadBalancerIPs": "10.0.20.201" };
      if (how === "submission port via ETP Cluster") {
        spec = {
          externalTrafficPolicy: "Cluster",
          ports: [{ name: "submission", port: 587, targetPort: "submission" }],
        };
        ann = { "metallb.io/loadBalancerIPs": "10.0.20.203" };
      }
      spec = Object.fromEntries(Object.entries(spec).filter(([, x]) => x !== undefined));
      const svc = service(name, spec, ann);
      if (how === "ETP unset")
        delete (svc.properties.spec as Record<string, unknown>).externalTrafficPolicy;
      return v(`${how} on Service ${name} ${JSON.stringify(port)}`, replace([svc]));
    }),
  legit: fc
    .tuple(
      fc.constantFrom(
        "internal ClusterIP Service",
        "headless Service",
        "legacy annotation",
        "dual-stack annotation list",
        "Service in another namespace",
        "Service for a non-mail port",
      ),
      smtpPort,
    )
    .map(([how, port]) => {
      const v = variant("mail-service-etp-local", "clean");
      const ports = [{ name: "smtp", ...port }];
      const svcs: Record<string, AnalyzerResource> = {
        "internal ClusterIP Service": service(
          "mailserver-internal",
          { type: "ClusterIP", externalTrafficPolicy: undefined, ports },
          undefined,
        ),
        "headless Service": service(
          "mailserver-headless",
          { type: "ClusterIP", clusterIP: "None", ports },
          undefined,
        ),
        "legacy annotation": service(
          "mailserver",
          {},
          { "metallb.universe.tf/loadBalancerIPs": "10.0.20.202" },
        ),
        "dual-stack annotation list": service(
          "mailserver",
          {},
          { "metallb.io/loadBalancerIPs": "10.0.20.202,2001:470:6e:43d::202" },
        ),
        "Service in another namespace": service(
          "smtp-relay",
          { type: "NodePort", externalTrafficPolicy: "Cluster", selector: { app: "relay" }, ports },
          undefined,
          "relay",
        ),
        "Service for a non-mail port": service(
          "mailserver-metrics",
          {
            type: "NodePort",
            externalTrafficPolicy: "Cluster",
            ports: [{ name: "metrics", port: 9166, targetPort: "metrics" }],
          },
          undefined,
        ),
      };
      const svc = svcs[how];
      const spec = svc.properties.spec as Record<string, unknown>;
      for (const k of Object.keys(spec)) if (spec[k] === undefined) delete spec[k];
      return v(`${how} ${JSON.stringify(port)}`, replace([svc]));
    }),
};

// ---------------------------------------------------------------------------------------------
// SPF: spf-includes-brevo, spf-valid, spf-unresolved (advisory)

/** A valid SPF record authorising Brevo, spelled in one of the ways RFC 7208 allows. */
const spfSpelling = fc.record({
  version: caseMix,
  include: caseMix,
  plus: fc.boolean(),
  extra: fc.subarray([
    "ip4:176.12.22.76",
    "ip6:2001:470:6e:43d::/64",
    "a",
    "mx",
    "a:mail.viktorbarzin.me/24",
    "exp=explain.viktorbarzin.me",
    "ip4:10.0.0.0/8",
  ]),
  all: fc.constantFrom("~all", "-all", "~ALL", "-All"),
  sep,
  trailing: fc.constantFrom("", " ", "  "),
});

function spfText(s: SpfSpelling, terms?: string[]): string {
  const include = `${s.plus ? "+" : ""}${mixCase("include:spf.brevo.com", s.include)}`;
  const body = terms ?? [include, ...s.extra, s.all];
  return `${mixCase("v=spf1", s.version)}${s.sep}${body.join(s.sep)}${s.trailing}`;
}
type SpfSpelling = {
  version: boolean[];
  include: boolean[];
  plus: boolean;
  extra: string[];
  all: string;
  sep: string;
  trailing: string;
};

function apexSpf(content: string, name = D, type: string = T.dnsRecord): AnalyzerResource {
  return txtRecord("spf", name, content, type);
}

const spfBrevo: Family = {
  policy: "spf-includes-brevo",
  violating: fc
    .tuple(
      spfSpelling,
      fc.constantFrom(
        "no relay include",
        "~include",
        "-include",
        "?include",
        "include after all",
        "second record",
        "redirect target without relay",
        "redirect ignored next to all",
      ),
      txtSplit,
      apexName,
    )
    .map(([s, how, cuts, name]) => {
      const v = variant("spf-includes-brevo", "violation");
      const inc = mixCase("include:spf.brevo.com", s.include);
      const extra: AnalyzerResource[] = [];
      let terms: string[];
      switch (how) {
        case "no relay include":
          terms = ["include:mailgun.org", ...s.extra, s.all];
          break;
        case "~include":
        case "-include":
        case "?include":
          terms = [`${how[0]}${inc}`, ...s.extra, s.all];
          break;
        case "include after all":
          terms = [...s.extra, s.all, inc];
          break;
        case "second record":
          terms = [inc, ...s.extra, s.all];
          extra.push(
            txtRecord(
              "spf-legacy",
              "@",
              `${mixCase("v=spf1", s.version)} include:mailgun.org ~all`,
              T.dnsRecord,
            ),
          );
          break;
        case "redirect target without relay":
          terms = [...s.extra.filter((t) => !t.startsWith("exp")), `redirect=_spf.${D}`];
          extra.push(
            txtRecord("spf-target", `_spf.${D}`, "v=spf1 include:mailgun.org ~all", T.dnsRecord),
          );
          break;
        default:
          terms = [...s.extra, s.all, `redirect=_spf.${D}`];
          extra.push(
            txtRecord("spf-target", `_spf.${D}`, "v=spf1 include:spf.brevo.com ~all", T.dnsRecord),
          );
      }
      const text = spfText(s, terms);
      return v(
        `${how}: ${splitTxt(text, cuts)} at ${name}`,
        replace([apexSpf(splitTxt(text, cuts), name), ...extra]),
      );
    }),
  legit: fc
    .tuple(
      spfSpelling,
      txtSplit,
      apexName,
      recordType,
      fc.constantFrom("direct", "redirect", "in-zone include"),
    )
    .map(([s, cuts, name, type, how]) => {
      const v = variant("spf-includes-brevo", "clean");
      const extra: AnalyzerResource[] = [];
      let text = spfText(s);
      if (how === "redirect") {
        text = spfText(s, [...s.extra.filter((t) => !t.startsWith("exp")), `redirect=_spf.${D}`]);
        extra.push(txtRecord("spf-target", `_spf.${D}`, spfText(s), T.dnsRecord));
      } else if (how === "in-zone include") {
        text = spfText(s, [`include:_spf.${D}`, s.all]);
        extra.push(txtRecord("spf-target", `_spf.${D}`, spfText(s), T.dnsRecord));
      }
      const content = splitTxt(text, cuts);
      return v(
        `${how}: ${content} at ${name}`,
        replace([apexSpf(content, name, type), ...extra], ["spf"]),
      );
    }),
};

const spfValid: Family = {
  policy: "spf-valid",
  violating: fc
    .tuple(
      spfSpelling,
      fc.constantFrom("+all", "?all", "all", "+ALL", "?All"),
      fc.constantFrom(
        "all qualifier",
        "too many lookups",
        "nested lookups",
        "ptr",
        "no all",
        "syntax",
      ),
      txtSplit,
    )
    .map(([s, badAll, how, cuts]) => {
      const v = variant("spf-valid", "violation");
      const inc = "include:spf.brevo.com";
      const extra: AnalyzerResource[] = [];
      const hosts = (n: number, m: string) =>
        Array.from({ length: n }, (_, i) => `${m}:h${i}.${D}`);
      let terms: string[];
      switch (how) {
        case "all qualifier":
          terms = [inc, ...s.extra, badAll];
          break;
        case "too many lookups":
          terms = [inc, ...hosts(5, "a"), ...hosts(5, "mx"), s.all];
          break;
        case "nested lookups":
          terms = [inc, `include:_spf.${D}`, s.all];
          extra.push(
            txtRecord(
              "spf-target",
              `_spf.${D}`,
              `v=spf1 ${hosts(9, "a").join(" ")} ~all`,
              T.dnsRecord,
            ),
          );
          break;
        case "ptr":
          terms = [inc, mixCase("ptr", s.include), s.all];
          break;
        case "no all":
          terms = [inc, ...s.extra];
          break;
        default:
          terms = [inc, "ip4:300.1.1.1", s.all];
      }
      const content = splitTxt(spfText(s, terms), cuts);
      return v(`${how}: ${content}`, replace([apexSpf(content), ...extra]));
    }),
  // At most 6 + 1 (include) + 3 (a, mx, a:mail in extra) = 10 lookups.
  legit: fc.tuple(spfSpelling, txtSplit, fc.integer({ min: 0, max: 6 })).map(([s, cuts, n]) => {
    const v = variant("spf-valid", "clean");
    const hosts = Array.from({ length: n }, (_, i) => `a:h${i}.${D}`);
    const content = splitTxt(
      spfText(s, [`include:spf.brevo.com`, ...hosts, ...s.extra, s.all]),
      cuts,
    );
    return v(content, replace([apexSpf(content)]));
  }),
};

const spfUnresolved: Family = {
  policy: "spf-unresolved",
  violating: fc
    .tuple(
      spfSpelling,
      fc.constantFrom("_spf.google.com", "mailgun.org", "spf.protection.outlook.com"),
      fc.constantFrom("include", "redirect"),
    )
    .map(([s, other, how]) => {
      const v = variant("spf-unresolved", "violation", "advisory");
      const terms =
        how === "include"
          ? ["include:spf.brevo.com", `include:${other}`, s.all]
          : [`redirect=${other}`];
      const content = spfText(s, terms);
      return v(`${how} ${other}: ${content}`, replace([apexSpf(content)]));
    }),
  legit: spfSpelling.map((s) =>
    variant("spf-unresolved", "clean")(spfText(s), replace([apexSpf(spfText(s))])),
  ),
};

// ---------------------------------------------------------------------------------------------
// DMARC

const dmarcSpelling = fc.record({
  p: fc.constantFrom("quarantine", "reject", "Reject", "QUARANTINE"),
  names: caseMix,
  optional: fc.subarray([
    "pct=100",
    `rua=mailto:dmarc@${D}`,
    `rua=mailto:dmarc@${D}!10m`,
    `ruf=mailto:dmarc@${D}`,
    "adkim=s",
    "aspf=r",
    "fo=1",
    "ri=86400",
    "sp=reject",
    "rf=afrf",
  ]),
  order: fc.array(fc.nat(), { minLength: 10, maxLength: 10 }),
  before: fc.constantFrom("", " ", "  "),
  after: fc.constantFrom("", " ", "  "),
  eq: fc.constantFrom("=", " =", "= ", " = "),
  trailing: fc.constantFrom("", ";", "; "),
});
type DmarcSpelling = {
  p: string;
  names: boolean[];
  optional: string[];
  order: number[];
  before: string;
  after: string;
  eq: string;
  trailing: string;
};

function dmarcText(s: DmarcSpelling, override: Record<string, string> = {}, dropP = false): string {
  const seen = new Set<string>();
  const tags = s.optional.filter((t) => {
    const k = t.split("=")[0] ?? "";
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  const rest = tags
    .map((t, i) => ({ t, k: s.order[i] ?? 0 }))
    .sort((a, b) => a.k - b.k)
    .map(({ t }) => t);
  const all = [...(dropP ? [] : [`p=${s.p}`]), ...rest];
  for (const [k, val] of Object.entries(override)) {
    const i = all.findIndex((t) => t.startsWith(`${k}=`));
    if (i >= 0) all[i] = `${k}=${val}`;
    else all.push(`${k}=${val}`);
  }
  const spelled = all.map((t) => {
    const [k, ...vals] = t.split("=");
    return `${mixCase(k ?? "", s.names)}${s.eq}${vals.join("=")}`;
  });
  return `v${s.eq}DMARC1${[...spelled].map((t) => `${s.before};${s.after}${t}`).join("")}${s.trailing}`;
}

function dmarcRecord(content: string, name = "dmarc"): AnalyzerResource {
  return txtRecord(name, `_dmarc.${D}`, content, T.dnsRecord);
}

const dmarc: Family = {
  policy: "dmarc-enforcing",
  violating: fc
    .tuple(
      dmarcSpelling,
      fc.constantFrom(
        "p=none",
        "p=None",
        "missing p",
        "pct=50",
        "pct=0",
        "sp=none",
        "v second",
        "adkim=x",
        "second record",
      ),
      txtSplit,
    )
    .map(([s, how, cuts]) => {
      const v = variant("dmarc-enforcing", "violation");
      let text: string;
      const extra: AnalyzerResource[] = [];
      if (how.startsWith("p=")) text = dmarcText(s, { p: how.slice(2) });
      else if (how === "missing p") text = dmarcText(s, {}, true);
      else if (how === "v second") text = `p=${s.p}; v=DMARC1`;
      else if (how === "second record") {
        text = dmarcText(s);
        extra.push(dmarcRecord("v=DMARC1; p=none", "dmarc-old"));
      } else {
        const [k, val] = how.split("=");
        text = dmarcText(s, { [k ?? ""]: val ?? "" });
      }
      const content = splitTxt(text, cuts);
      return v(`${how}: ${content}`, replace([dmarcRecord(content), ...extra]));
    }),
  legit: fc.tuple(dmarcSpelling, txtSplit).map(([s, cuts]) => {
    const content = splitTxt(dmarcText(s), cuts);
    return variant("dmarc-enforcing", "clean")(content, replace([dmarcRecord(content)]));
  }),
};

const reportDestination: Family = {
  policy: "dmarc-report-destination",
  violating: fc
    .tuple(
      dmarcSpelling,
      fc.constantFrom("rua", "ruf", "RUA"),
      fc.constantFrom("dmarc.mailgun.org", "example.net", `${D}.evil.example`),
    )
    .map(([s, tag, dest]) => {
      const text = dmarcText(s, { [tag]: `MAILTO:reports@${dest}` });
      return variant(
        "dmarc-report-destination",
        "violation",
        "advisory",
      )(text, replace([dmarcRecord(text)]));
    }),
  legit: fc
    .tuple(
      dmarcSpelling,
      fc.constantFrom(`dmarc@${D}`, `DMARC@${D.toUpperCase()}`, `reports@sub.${D}`),
    )
    .map(([s, to]) => {
      const text = dmarcText(s, { rua: `mailto:${to}!10m` });
      return variant("dmarc-report-destination", "clean")(text, replace([dmarcRecord(text)]));
    }),
};

// ---------------------------------------------------------------------------------------------
// MTA-STS and TLS-RPT (tag-list records of RFC 8461 3.1 and RFC 8460 3)

const wsp = fc.constantFrom("", " ", "  ");
const stsId = fc.stringMatching(/^[A-Za-z0-9]{1,32}$/);

const mtaSts: Family = {
  policy: "mta-sts-valid",
  violating: fc
    .tuple(
      fc.constantFrom(
        "punctuation",
        "too long",
        "missing id",
        "lower-case version",
        "second record",
        "id first",
      ),
      stsId,
      wsp,
    )
    .map(([how, id, w]) =>
      txtViolation(
        "mta-sts-valid",
        "mta-sts",
        `_mta-sts.${D}`,
        "v=STSv1; id=1",
      )(how, {
        punctuation: `v=STSv1;${w}id=${id}-1`,
        "too long": `v=STSv1;${w}id=${id}${"a".repeat(33)}`,
        "missing id": `v=STSv1;${w}`,
        "lower-case version": `v=stsv1;${w}id=${id}`,
        "second record": `v=STSv1;${w}id=${id}`,
        "id first": `id=${id};${w}v=STSv1`,
      }),
    ),
  // The id must stay the served policy's (mta-sts-served); the spelling around it varies.
  legit: fc
    .tuple(wsp, wsp, fc.constantFrom("", ";", `;${" "}`), fc.boolean())
    .map(([a, b, end, ext]) => {
      const id = mtaStsId(mtaStsPolicy());
      const text = `v=STSv1${a};${b}id=${id}${ext ? `;${b}ext1=value` : ""}${end}`;
      return variant("mta-sts-valid", "clean")(
        text,
        replace([txtRecord("mta-sts", `_mta-sts.${D}`, text, T.dnsRecord)]),
      );
    }),
};

const ruaUri = fc.constantFrom(
  `mailto:postmaster@${D}`,
  `MAILTO:tls@${D}`,
  "https://tlsrpt.example.net/v1",
  "HTTPS://r.example.net/x",
);

const tlsRpt: Family = {
  policy: "tls-rpt-valid",
  violating: fc
    .tuple(
      fc.constantFrom(
        "http URI",
        "missing rua",
        "lower-case version",
        "second record",
        "bare address",
      ),
      ruaUri,
      wsp,
    )
    .map(([how, uri, w]) =>
      txtViolation(
        "tls-rpt-valid",
        "tls-rpt",
        `_smtp._tls.${D}`,
        `v=TLSRPTv1; rua=mailto:x@${D}`,
      )(how, {
        "http URI": `v=TLSRPTv1;${w}rua=${uri},http://reports.example.net`,
        "missing rua": `v=TLSRPTv1;${w}`,
        "lower-case version": `v=tlsrptv1;${w}rua=${uri}`,
        "second record": `v=TLSRPTv1;${w}rua=${uri}`,
        "bare address": `v=TLSRPTv1;${w}rua=postmaster@${D}`,
      }),
    ),
  legit: fc
    .tuple(
      fc.uniqueArray(ruaUri, { minLength: 1, maxLength: 3 }),
      wsp,
      wsp,
      fc.constantFrom("", ";", "; "),
    )
    .map(([uris, a, b, end]) => {
      const text = `v=TLSRPTv1${a};${b}rua=${uris.join(",")}${end}`;
      return variant("tls-rpt-valid", "clean")(
        text,
        replace([txtRecord("tls-rpt", `_smtp._tls.${D}`, text, T.dnsRecord)]),
      );
    }),
};

// ---------------------------------------------------------------------------------------------
// DKIM (RFC 6376 3.6.1, RFC 8301, RFC 8463)

function dkimText(p: string, tags: { v: boolean; k: boolean; extra: string[] }): string {
  return [
    ...(tags.v ? ["v=DKIM1"] : []),
    ...(tags.k ? ["k=rsa"] : []),
    ...tags.extra,
    `p=${p}`,
  ].join("; ");
}
const dkimTags = fc.record({
  v: fc.boolean(),
  k: fc.boolean(),
  extra: fc.subarray(["h=sha256", "t=s", "s=email", "n=rotated 2026"]),
});
const selectorName = (sel: string) =>
  fc.constantFrom(
    `${sel}._domainkey.${D}`,
    `${sel}._domainkey`,
    `${sel.toUpperCase()}._DomainKey.${D}.`,
  );
/** Whitespace inside p= is allowed (RFC 6376 3.6.1: FWS in base64). */
function foldBase64(b64: string, every: number | null): string {
  return every === null ? b64 : (b64.match(new RegExp(`.{1,${every}}`, "g")) ?? []).join(" ");
}

/**
 * A selector delegated by CNAME (RFC 6376 3.6.2.2: the key query follows it) to a relay that holds
 * the key. The default config trusts Brevo's two, each only at its own target; DNS names compare
 * case-insensitively, with or without the root's dot.
 */
const cnameSelector = (sel: string, target: string) =>
  selectorName(sel).map((name) =>
    record(`dkim-${sel}`, { name, type: "CNAME", content: target, proxied: false }),
  );
const delegatedViolating = fc
  .oneof(
    cnameSelector("sendgrid1", "s1.domainkey.u123.wl.sendgrid.net"),
    cnameSelector("mail", "mail.dkim.example.net."),
    cnameSelector("brevo1", "b2.viktorbarzin-me.dkim.brevo.com"),
    cnameSelector("brevo2", "b2.attacker.example"),
  )
  .map((r) =>
    variant("dkim-key-strength", "violation")(
      `CNAME ${String(r.properties.name)} -> ${String(r.properties.content)}`,
      replace([r]),
    ),
  );
const delegatedLegit = fc
  .oneof(
    cnameSelector("brevo1", "b1.viktorbarzin-me.dkim.brevo.com"),
    cnameSelector("brevo1", "B1.Viktorbarzin-ME.dkim.brevo.com."),
    cnameSelector("brevo2", "b2.viktorbarzin-me.dkim.brevo.com."),
  )
  .map((r) =>
    variant("dkim-key-strength", "clean")(
      `CNAME ${String(r.properties.name)} -> ${String(r.properties.content)}`,
      replace([r]),
    ),
  );

const dkim: Family = {
  policy: "dkim-key-strength",
  violating: fc.oneof(
    delegatedViolating,
    fc
      .tuple(
        fc.constantFrom("1024-bit key at mail", "not base64", "v not first", "unknown k"),
        dkimTags,
        selectorName("mail"),
        txtSplit,
      )
      .map(([how, tags, name, cuts]) => {
        const v = variant("dkim-key-strength", "violation");
        let text = dkimText(rsaPublicKey(1024), tags);
        if (how === "not base64") text = dkimText("not*base64!", tags);
        if (how === "v not first") text = `k=rsa; v=DKIM1; p=${rsaPublicKey(2048)}`;
        if (how === "unknown k") text = `v=DKIM1; k=dsa; p=${rsaPublicKey(2048)}`;
        const content = splitTxt(text, cuts);
        return v(
          `${how} at ${name}`,
          replace([txtRecord("dkim-mail", name, content, T.dnsRecord)]),
        );
      }),
  ),
  legit: fc.oneof(
    delegatedLegit,
    fc
      .tuple(
        fc.constantFrom("rsa2048", "ed25519", "revoked"),
        dkimTags,
        selectorName("mail"),
        txtSplit,
        fc.option(fc.integer({ min: 16, max: 120 })),
      )
      .map(([key, tags, name, cuts, fold]) => {
        const clean = variant("dkim-key-strength", "clean");
        if (key === "revoked") {
          // A retired selector (Rspamd signs with mail, dkim-signing-published checks that one).
          const old = name.replace(/mail/i, "old");
          const content = splitTxt(dkimText("", tags), cuts);
          return clean(
            `${key} at ${old}`,
            replace([txtRecord("dkim-old", old, content, T.dnsRecord)]),
          );
        }
        if (key === "ed25519") {
          // Rspamd signs with the seed in the Secret; the record publishes its public key.
          const ed = ed25519Key();
          const content = splitTxt(`v=DKIM1; k=ed25519; p=${ed.publicKey}`, cuts);
          return clean(
            `${key} at ${name}`,
            replace([
              txtRecord("dkim-mail", name, content, T.dnsRecord),
              dkimSecret(`${ed.seed}\n`),
            ]),
          );
        }
        const content = splitTxt(dkimText(foldBase64(rsaPublicKey(2048), fold), tags), cuts);
        return clean(
          `${key} at ${name}`,
          replace([txtRecord("dkim-mail", name, content, T.dnsRecord)]),
        );
      }),
  ),
};

const dkimLegacy: Family = {
  policy: "dkim-legacy-key",
  violating: fc
    .tuple(selectorName("s1"), txtSplit)
    .map(([name, cuts]) =>
      variant(
        "dkim-legacy-key",
        "violation",
        "advisory",
      )(
        `1024-bit s1 at ${name}`,
        replace([
          txtRecord(
            "dkim-s1",
            name,
            splitTxt(dkimContent(1024).replace(/"/g, "").replace(/ /g, ""), cuts),
            T.dnsRecord,
          ),
        ]),
      ),
    ),
  legit: fc
    .tuple(selectorName("s1"), txtSplit)
    .map(([name, cuts]) =>
      variant("dkim-legacy-key", "clean")(
        `2048-bit s1 at ${name}`,
        replace([
          txtRecord(
            "dkim-s1",
            name,
            splitTxt(`v=DKIM1; k=rsa; p=${rsaPublicKey(2048)}`, cuts),
            T.dnsRecord,
          ),
        ]),
      ),
    ),
};

// ---------------------------------------------------------------------------------------------
// mail-dns-only

const mailHostName = fc.constantFrom(`mail.${D}`, "mail", `mail.${D}.`, `MAIL.${D.toUpperCase()}`);

/** An SRV record given as Cloudflare's `data` object, or as its "weight port target" content. */
function srvRecord(
  name: string,
  target: string,
  port: number,
  asData: boolean,
  type: string,
): AnalyzerResource {
  const r = record(
    `srv-${name.replace(/[._]/g, "")}`,
    { name, type: "SRV", content: asData ? "" : `5 ${port} ${target}`, priority: 0 },
    type,
  );
  if (asData) {
    const props = r.properties;
    delete props.content;
    props.data = { priority: 0, weight: 5, port, target };
  }
  return r;
}

const dnsOnly: Family = {
  policy: "mail-dns-only",
  violating: fc
    .tuple(
      fc.constantFrom(
        "A",
        "AAAA",
        "MX",
        "CNAME chain",
        "second MX target",
        "apex MX target",
        "_imaps SRV target (data)",
        "_submissions SRV target (content)",
        "_submission SRV target (data)",
        "_pop3s SRV target (content)",
      ),
      mailHostName,
      recordType,
    )
    .map(([how, name, type]) => {
      const v = variant("mail-dns-only", "violation");
      const rs: AnalyzerResource[] = [];
      if (how.includes("SRV")) {
        // RFC 6186: a client connects to the SRV target; Cloudflare proxies no IMAP/submission.
        const service = how.split(" ")[0] ?? "";
        const port = { _imaps: 993, _submissions: 465, _submission: 587, _pop3s: 995 }[service];
        rs.push(srvRecord(`${service}._tcp`, `imap.${D}`, port ?? 0, how.includes("(data)"), type));
        rs.push(
          record(
            "imap-a",
            { name: "imap", type: "A", content: "176.12.22.76", proxied: true },
            type,
          ),
        );
      }
      if (how === "A")
        rs.push(
          record("mail-a", { name, type: "A", content: "176.12.22.76", proxied: true }, type),
        );
      if (how === "AAAA")
        rs.push(
          record(
            "mail-aaaa",
            { name, type: "AAAA", content: "2001:470:6e:43d::2", proxied: true },
            type,
          ),
        );
      if (how === "MX")
        rs.push(
          record(
            "mx",
            { name: D, type: "MX", content: `mail.${D}`, priority: 1, proxied: true },
            type,
          ),
        );
      if (how === "CNAME chain") {
        return v(`${how}: ${name}`, [
          ...replace([], ["mail-a", "mail-aaaa"]),
          record("mail-cname", { name, type: "CNAME", content: `edge.${D}` }, type),
          record(
            "edge-a",
            { name: `edge.${D}`, type: "A", content: "176.12.22.76", proxied: true },
            type,
          ),
        ]);
      }
      if (how === "second MX target") {
        rs.push(record("mx2", { name: D, type: "MX", content: `mx2.${D}.`, priority: 10 }, type));
        rs.push(
          record("mx2-a", { name: "mx2", type: "A", content: "176.12.22.77", proxied: true }, type),
        );
      }
      if (how === "apex MX target") {
        rs.push(record("mx-apex", { name: "@", type: "MX", content: D, priority: 20 }, type));
        rs.push(
          record("apex-a", { name: "@", type: "A", content: "176.12.22.78", proxied: true }, type),
        );
      }
      return v(
        `${how}: ${name}`,
        replace(rs, type === T.legacyRecord ? rs.map((r) => r.name) : []),
      );
    }),
  legit: fc
    .tuple(
      fc.constantFrom("www", "webmail-other", "mta-sts", "autoconfig"),
      fc.boolean(),
      recordType,
    )
    .map(([host, cname, type]) => {
      const r = cname
        ? record(
            `${host}-cname`,
            { name: host, type: "CNAME", content: `ingress.${D}`, proxied: true },
            type,
          )
        : record(
            `${host}-a`,
            { name: `${host}.${D}`, type: "A", content: "176.12.22.76", proxied: true },
            type,
          );
      return variant("mail-dns-only", "clean")(`proxied ${host}`, replace([r]));
    })
    .chain((plain) =>
      fc.oneof(
        fc.constant(plain),
        fc
          .tuple(
            fc.constantFrom<[string, string, boolean]>(
              // Not a mail service: its proxied target is none of the pack's business.
              ["_xmpp-client._tcp", `chat.${D}`, true],
              // "." says the service is not offered (RFC 2782): no host to reach.
              ["_pop3._tcp", ".", true],
              ["_imaps._tcp", `imap.${D}`, false],
            ),
            fc.boolean(),
            recordType,
          )
          .map(([[service, target, proxied], asData, type]) =>
            variant("mail-dns-only", "clean")(
              `SRV ${service} -> ${target}, target proxied ${proxied}`,
              replace([
                srvRecord(service, target, 993, asData, type),
                record(
                  "srv-host-a",
                  {
                    name: target === "." ? `other.${D}` : target,
                    type: "A",
                    content: "176.12.22.76",
                    proxied,
                  },
                  type,
                ),
              ]),
            ),
          ),
      ),
    ),
};

// ---------------------------------------------------------------------------------------------
// image-pinned

const floating = fc.constantFrom(
  ":latest",
  "",
  ":15.0",
  ":15",
  ":edge",
  ":stable",
  ":latest-alpine",
  ":v15",
  ":15-alpine",
);
const pinned = fc.constantFrom(
  ":15.0.0",
  `@sha256:${"c".repeat(64)}`,
  `:15.0.0@sha256:${"d".repeat(64)}`,
  ":v15.0.0",
);
/** docker-mailserver must also name the release of the pack's env table (dms-env-known). */
const pinnedDms = fc.constantFrom(":15.0.0", `:15.0.0@sha256:${"d".repeat(64)}`);
const registry = fc.constantFrom("docker.io/", "", "registry.local:5000/", "ghcr.io/");
const containerField = fc.constantFrom(
  "dms",
  "containers",
  "initContainers",
  "ephemeralContainers",
);

function podWithImage(field: string, image: string): Record<string, unknown> {
  const c = sidecar("tool", image);
  if (field === "dms") return mailPodSpec([dmsContainer({ image })]);
  if (field === "containers") return mailPodSpec([dmsContainer(), c]);
  return { ...mailPodSpec([dmsContainer()]), [field]: [c] };
}

const imagePinned: Family = {
  policy: "image-pinned",
  violating: fc
    .tuple(workloadType, containerField, registry, floating)
    .map(([type, field, reg, tag]) =>
      variant("image-pinned", "violation")(
        `${tag.replace(/^:/, "") || "no tag"}: ${field} ${imageOf(field, reg, tag)} in ${type}`,
        mailWorkloadPod(type, podWithImage(field, imageOf(field, reg, tag))),
      ),
    ),
  legit: fc
    .tuple(workloadType, containerField, registry, pinned, pinnedDms)
    .map(([type, field, reg, other, dms]) => ({
      type,
      field,
      reg,
      tag: field === "dms" ? dms : other,
    }))
    .map(({ type, field, reg, tag }) =>
      variant("image-pinned", "clean")(
        `${tag.replace(/^:/, "") || "no tag"}: ${field} ${imageOf(field, reg, tag)} in ${type}`,
        mailWorkloadPod(type, podWithImage(field, imageOf(field, reg, tag))),
      ),
    ),
};

/** docker-mailserver for the DMS container, another repository for the others. */
function imageOf(field: string, reg: string, tag: string): string {
  return `${reg}${field === "dms" ? "mailserver/docker-mailserver" : "acme/mail-tools"}${tag}`;
}

/** The good stack with its mail Deployment replaced by a workload of `type` running `podSpec`. */
export function mailWorkloadPod(
  type: string,
  podSpec: Record<string, unknown>,
): AnalyzerResource[] {
  const rest = goodStack().filter((r) => !(r.name === "mailserver" && r.type === T.deployment));
  return [...rest, workload(type, "mailserver", NS, podSpec)];
}

// ---------------------------------------------------------------------------------------------
// mail-no-net-caps

const capSpelling = (cap: string) => fc.constantFrom(cap, cap.toLowerCase(), `CAP_${cap}`);

const netCaps: Family = {
  policy: "mail-no-net-caps",
  violating: fc
    .tuple(
      workloadType,
      fc.oneof(
        fc.tuple(
          fc.constantFrom("add"),
          fc.oneof(capSpelling("NET_ADMIN"), capSpelling("NET_RAW"), fc.constantFrom("ALL")),
        ),
        fc.constantFrom(
          ["privileged", ""] as const,
          ["no drop", ""] as const,
          ["empty drop", ""] as const,
          ["drop other", ""] as const,
          ["drop other", "all"] as const,
          ["drop other", "CAP_NET_RAW"] as const,
        ),
      ),
      fc.constantFrom("dms", "sidecar", "init"),
    )
    .map(([type, [how, cap], where]) => {
      const v = variant("mail-no-net-caps", "violation");
      let sc: Record<string, unknown>;
      if (how === "add") sc = { capabilities: { add: [cap], drop: ["NET_RAW"] } };
      else if (how === "privileged") sc = { privileged: true };
      else if (how === "no drop") sc = { allowPrivilegeEscalation: true };
      else if (how === "empty drop") sc = { capabilities: { drop: [] } };
      else sc = { capabilities: { drop: [cap || "NET_ADMIN"] } };
      // Without its drop a container regains the runtime's default NET_RAW, and every container
      // of the pod shares the mail container's network namespace.
      const target = where;
      const dms = dmsContainer(target === "dms" ? { securityContext: sc } : {});
      const other = {
        name: "helper",
        image: "docker.io/library/busybox:1.37.0",
        securityContext: sc,
      };
      const pod =
        target === "dms"
          ? mailPodSpec([dms])
          : target === "sidecar"
            ? mailPodSpec([dms, other])
            : { ...mailPodSpec([dms]), initContainers: [other] };
      return v(`${how} ${cap} on ${target} in ${type}`, mailWorkloadPod(type, pod));
    }),
  legit: fc
    .tuple(
      workloadType,
      fc.constantFrom(["NET_RAW"], ["ALL"], ["net_raw"], ["NET_ADMIN", "NET_RAW"]),
      fc.subarray(["NET_BIND_SERVICE", "CHOWN", "SETUID", "SETGID"]),
      fc.constantFrom("alone", "sidecar", "init"),
    )
    .map(([type, drop, add, beside]) => {
      const sc = {
        allowPrivilegeEscalation: true,
        capabilities: { drop, ...(add.length ? { add } : {}) },
      };
      const dms = dmsContainer({ securityContext: sc });
      const other = {
        name: "helper",
        image: "docker.io/library/busybox:1.37.0",
        securityContext: { capabilities: { drop } },
      };
      const pod =
        beside === "alone"
          ? mailPodSpec([dms])
          : beside === "sidecar"
            ? mailPodSpec([dms, other])
            : { ...mailPodSpec([dms]), initContainers: [other] };
      return variant("mail-no-net-caps", "clean")(
        `drop ${drop.join(",")}: add ${add.join(",")} in ${type}, ${beside}`,
        mailWorkloadPod(type, pod),
      );
    }),
};

// ---------------------------------------------------------------------------------------------
// mail-data-protected

const dataProtected: Family = {
  policy: "mail-data-protected",
  violating: fc
    .tuple(
      fc.constantFrom(
        "prefixed PVC elsewhere",
        "other PVC in the mail namespace",
        "StatefulSet claim template deleted with it",
      ),
      fc.constantFrom("a", "b", "proxmox2"),
    )
    .map(([how, suffix]) => {
      const v = variant("mail-data-protected", "violation");
      if (how === "prefixed PVC elsewhere")
        return v(how, replace([pvc(`mailserver-data-${suffix}`, false, "mail2")]));
      if (how === "other PVC in the mail namespace")
        return v(how, replace([pvc(`state-${suffix}`, false)]));
      const sts = workload(
        "kubernetes:apps/v1:StatefulSet",
        "mailserver",
        NS,
        mailPodSpec([dmsContainer()]),
      );
      const spec = sts.properties.spec as Record<string, unknown>;
      spec.volumeClaimTemplates = [
        {
          metadata: { name: `mailserver-data-${suffix}` },
          spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "2Gi" } } },
        },
      ];
      spec.persistentVolumeClaimRetentionPolicy = { whenDeleted: "Delete", whenScaled: "Retain" };
      return v(how, [
        ...goodStack().filter((r) => !(r.name === "mailserver" && r.type === T.deployment)),
        sts,
      ]);
    }),
  legit: fc
    .tuple(
      fc.constantFrom(
        "protected PVC",
        "unrelated namespace",
        "StatefulSet claim template retained",
      ),
      fc.constantFrom("a", "b"),
    )
    .map(([how, suffix]) => {
      const v = variant("mail-data-protected", "clean");
      if (how === "protected PVC")
        return v(how, replace([pvc(`mailserver-data-${suffix}`, true, "mail2")]));
      if (how === "unrelated namespace")
        return v(how, replace([pvc(`grafana-${suffix}`, false, "monitoring")]));
      const sts = workload(
        "kubernetes:apps/v1:StatefulSet",
        "mailserver",
        NS,
        mailPodSpec([dmsContainer()]),
      );
      const spec = sts.properties.spec as Record<string, unknown>;
      spec.volumeClaimTemplates = [
        {
          metadata: { name: `mailserver-data-${suffix}` },
          spec: { accessModes: ["ReadWriteOnce"] },
        },
      ];
      return v(how, [
        ...goodStack().filter((r) => !(r.name === "mailserver" && r.type === T.deployment)),
        sts,
      ]);
    }),
};

// ---------------------------------------------------------------------------------------------
// no-literal-secrets

const secretValue = fc.constantFrom(
  FAKE_BREVO_KEY,
  `key-${"3f".repeat(16)}`,
  "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----",
);

const noSecrets: Family = {
  policy: "no-literal-secrets",
  violating: fc
    .tuple(
      fc.constantFrom(
        "ConfigMap data",
        "ConfigMap binaryData",
        "annotation on the Deployment",
        "annotation on a ConfigMap",
        "container args",
        "container command",
        "init container env",
        "args --password=",
        "sasl file after a comment",
      ),
      secretValue,
      workloadType,
    )
    .map(([where, value, type]) => {
      const v = variant("no-literal-secrets", "violation");
      const add = (c: Record<string, unknown>) =>
        mailWorkloadPod(type, mailPodSpec([dmsContainer(c)]));
      switch (where) {
        case "ConfigMap data":
          return v(
            where,
            replace([configMap("relay", NS, { "relay.conf": `user=a\nkey=${value}\n` })]),
          );
        case "ConfigMap binaryData": {
          const cm = configMap("relay-bin", NS, {});
          cm.properties.binaryData = { "relay.key": Buffer.from(value).toString("base64") };
          return v(where, replace([cm]));
        }
        case "annotation on the Deployment": {
          const stack = mailWorkloadPod(type, mailPodSpec([dmsContainer()]));
          const w = stack[stack.length - 1];
          (w.properties.metadata as Record<string, unknown>).annotations = {
            "example.com/relay-key": value,
          };
          return v(`${where} (${type})`, stack);
        }
        case "annotation on a ConfigMap": {
          const cm = configMap("notes", NS, { a: "b" });
          (cm.properties.metadata as Record<string, unknown>).annotations = {
            note: `relay key ${value}`,
          };
          return v(where, replace([cm]));
        }
        case "container args":
          return v(`${where} (${type})`, add({ args: ["--relay-key", value] }));
        case "container command":
          return v(
            `${where} (${type})`,
            add({ command: ["sh", "-c", `RELAY=${value} exec supervisord`] }),
          );
        case "init container env": {
          const stack = mailWorkloadPod(type, {
            ...mailPodSpec([dmsContainer()]),
            initContainers: [
              {
                name: "init",
                image: "docker.io/library/busybox:1.37.0",
                env: [{ name: "RELAY", value }],
              },
            ],
          });
          return v(`${where} (${type})`, stack);
        }
        case "args --password=":
          return v(`${where} (${type})`, add({ args: ["--password=correct-horse-battery"] }));
        default:
          return v(
            where,
            replace([
              configMap("sasl", NS, {
                "postfix-sasl-password.cf":
                  "# relay\n[smtp-relay.brevo.com]:587 a7e778001@smtp-brevo.com:hunter2-hunter2\n",
              }),
            ]),
          );
      }
    }),
  legit: fc
    .tuple(
      fc.constantFrom(
        "args from env expansion",
        "secretKeyRef",
        "Secret stringData",
        "path named like a key",
        "switch",
        "annotation checksum",
        "binaryData that is not a secret",
      ),
      workloadType,
    )
    .map(([how, type]) => {
      const v = variant("no-literal-secrets", "clean");
      const withHelper = (c: Record<string, unknown>) =>
        mailWorkloadPod(
          type,
          mailPodSpec([dmsContainer(), sidecar("helper", "docker.io/acme/mail-tools:1.0.0", c)]),
        );
      const add = (c: Record<string, unknown>) =>
        mailWorkloadPod(type, mailPodSpec([dmsContainer(c)]));
      switch (how) {
        case "args from env expansion":
          // On the sidecar: args on docker-mailserver replace its start (dms-start-known).
          return v(
            how,
            withHelper({ args: ["--password=$(RELAY_PASSWORD)", "--token", "$(API_TOKEN)"] }),
          );
        case "secretKeyRef":
          // The Secret is the stack's: one it does not create is tls-secret-owned's to refuse.
          return v(how, [
            ...add({
              env: [
                {
                  name: "RELAY_PASSWORD",
                  valueFrom: { secretKeyRef: { name: "relay", key: "password" } },
                },
              ],
            }),
            secretResource("relay", { password: "PLACEHOLDER-password" }),
          ]);
        case "Secret stringData":
          return v(how, replace([secretResource("relay", { RELAY_PASSWORD: FAKE_BREVO_KEY })]));
        case "path named like a key":
          return v(
            how,
            withHelper({
              env: [{ name: "DKIM_PRIVATE_KEY_PATH", value: "/etc/rspamd/dkim/mail.key" }],
            }),
          );
        case "switch":
          return v(how, withHelper({ env: [{ name: "SASL_PASSWD", value: "0" }] }));
        case "annotation checksum": {
          const stack = mailWorkloadPod(type, mailPodSpec([dmsContainer()]));
          const w = stack[stack.length - 1];
          (w.properties.metadata as Record<string, unknown>).annotations = {
            "checksum/config": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
          };
          return v(how, stack);
        }
        default: {
          const cm = configMap("logo", NS, {});
          cm.properties.binaryData = { "logo.png": Buffer.from("\x89PNG\r\n").toString("base64") };
          return v(how, replace([cm]));
        }
      }
    }),
};

// ---------------------------------------------------------------------------------------------
// dms-env-known

const unreadVar = fc.constantFrom(
  "ONE_DIR",
  "DMS_DEBUG",
  "RELAY_PASSWORD__FILE",
  "ENABLE_FAIL2BAM",
  "DMS_CONFIG_POLL",
);

const dmsEnv: Family = {
  policy: "dms-env-known",
  violating: fc
    .tuple(
      fc.constantFrom(
        "env ConfigMap",
        "container env",
        "extra envFrom ConfigMap",
        "prefixed env ConfigMap",
        "envFrom Secret",
      ),
      unreadVar,
      workloadType,
    )
    .map(([where, key, type]) => {
      const v = variant("dms-env-known", "violation");
      const base = [{ configMapRef: { name: "mailserver-env" } }];
      let c: Record<string, unknown> = {};
      const extra: AnalyzerResource[] = [];
      const env = mailEnv();
      if (where === "env ConfigMap") env[key] = "1";
      if (where === "container env") c = { env: [{ name: key, value: "1" }] };
      if (where === "extra envFrom ConfigMap") {
        c = { envFrom: [...base, { configMapRef: { name: "dms-extra" } }] };
        extra.push(configMap("dms-extra", NS, { [key]: "1" }));
      }
      if (where === "prefixed env ConfigMap")
        c = { envFrom: [{ prefix: "DMS_", configMapRef: { name: "mailserver-env" } }] };
      if (where === "envFrom Secret") {
        c = { envFrom: [...base, { secretRef: { name: "dms-secret-env" } }] };
        extra.push(secretResource("dms-secret-env", { [key]: "1" }));
      }
      return v(`${where}: ${key} (${type})`, [
        ...replace([envConfigMap(env), ...extra]).filter(
          (r) => !(r.name === "mailserver" && r.type === T.deployment),
        ),
        workload(type, "mailserver", NS, mailPodSpec([dmsContainer(c)])),
      ]);
    }),
  legit: fc
    .tuple(
      fc.constantFrom(
        "DOVECOT_MAILBOX_FORMAT",
        "POSTFIX_MESSAGE_SIZE_LIMIT",
        "SPOOF_PROTECTION",
        "ENABLE_QUOTAS",
      ),
      fc.constantFrom(
        "container env",
        "extra envFrom ConfigMap",
        "envFrom Secret",
        "other app ConfigMap",
      ),
      workloadType,
    )
    .map(([key, where, type]) => {
      const v = variant("dms-env-known", "clean");
      const base = [{ configMapRef: { name: "mailserver-env" } }];
      let c: Record<string, unknown> = {};
      const extra: AnalyzerResource[] = [];
      if (where === "container env") c = { env: [{ name: key, value: "1" }] };
      if (where === "extra envFrom ConfigMap") {
        c = { envFrom: [...base, { configMapRef: { name: "dms-extra" } }] };
        extra.push(configMap("dms-extra", NS, { [key]: "1" }));
      }
      if (where === "envFrom Secret") {
        c = { envFrom: [...base, { secretRef: { name: "dms-relay" } }] };
        extra.push(secretResource("dms-relay", { RELAY_USER: "relay", RELAY_PASSWORD: "x" }));
      }
      if (where === "other app ConfigMap")
        extra.push(configMap("roundcube-env", NS, { ROUNDCUBEMAIL_PLUGINS: "archive" }));
      return v(`${where}: ${key} (${type})`, [
        ...replace(extra).filter((r) => !(r.name === "mailserver" && r.type === T.deployment)),
        workload(type, "mailserver", NS, mailPodSpec([dmsContainer(c)])),
      ]);
    }),
};

// ---------------------------------------------------------------------------------------------
// probe-within-mailgun-quota

function probe(
  name: string,
  schedule: string,
  job: Record<string, unknown>,
  namespace = NS,
): AnalyzerResource {
  const r = probeCronJob(schedule);
  const props = r.properties as {
    metadata: Record<string, unknown>;
    spec: { jobTemplate: { spec: Record<string, unknown> } };
  };
  props.metadata = { ...props.metadata, name, namespace };
  Object.assign(props.spec.jobTemplate.spec, job);
  for (const [k, v] of Object.entries(job))
    if (v === undefined) delete props.spec.jobTemplate.spec[k];
  return { ...r, name: namespace === NS ? name : `${namespace}-${name}` };
}

/** A CronJob every minute whose one container takes `container` (env, envFrom). */
function cronWith(name: string, container: Record<string, unknown>): AnalyzerResource {
  const r = workload("kubernetes:batch/v1:CronJob", name, NS, {
    restartPolicy: "Never",
    containers: [{ name: "c", image: "docker.io/library/python:3.12.8-slim", ...container }],
  });
  (r.properties.spec as Record<string, unknown>).schedule = "* * * * *";
  return r;
}

const probeQuota: Family = {
  policy: "probe-within-mailgun-quota",
  violating: fc
    .tuple(
      fc.constantFrom(
        "faster schedule",
        "parallelism",
        "completions",
        "default backoffLimit",
        "retries",
        "second copy",
        "copy in another namespace",
        "copy reading the key under another name",
        "copy taking the probe's Secret by envFrom",
        "CronJob with envFrom from outside the stack",
      ),
      fc.constantFrom("*/10 * * * *", "*/5 * * * *", "0-59/15 * * * *", "*/19 * * * *"),
    )
    .map(([how, fast]) => {
      const v = variant("probe-within-mailgun-quota", "violation");
      const p = "email-roundtrip-monitor";
      const slow = "*/20 * * * *";
      const rs: Record<string, AnalyzerResource[]> = {
        "faster schedule": [probe(p, fast, { backoffLimit: 0 })],
        parallelism: [probe(p, slow, { backoffLimit: 0, parallelism: 2 })],
        completions: [probe(p, slow, { backoffLimit: 0, completions: 2 })],
        "default backoffLimit": [probe(p, "*/30 * * * *", { backoffLimit: undefined })],
        retries: [probe(p, slow, { backoffLimit: 1 })],
        "second copy": [
          probe(p, slow, { backoffLimit: 0 }),
          probe("roundtrip-canary", "*/30 * * * *", { backoffLimit: 0 }),
        ],
        "copy in another namespace": [
          probe(p, slow, { backoffLimit: 0 }),
          probe(p, "*/30 * * * *", { backoffLimit: 0 }, "monitoring"),
        ],
        // The same Secret key is the same Mailgun key, whatever the env name (Kubernetes
        // resolves secretKeyRef by Secret and key; envFrom sets every key of the Secret).
        "copy reading the key under another name": [
          probe(p, slow, { backoffLimit: 0 }),
          cronWith("mail-canary", {
            env: [
              {
                name: "MG",
                valueFrom: { secretKeyRef: { name: "probe", key: "mailgun_api_key" } },
              },
            ],
          }),
        ],
        "copy taking the probe's Secret by envFrom": [
          probe(p, slow, { backoffLimit: 0 }),
          cronWith("mail-canary", { envFrom: [{ prefix: "X_", secretRef: { name: "probe" } }] }),
        ],
        // Only the cluster knows what that Secret holds: it may set MAILGUN_API_KEY.
        "CronJob with envFrom from outside the stack": [
          probe(p, slow, { backoffLimit: 0 }),
          cronWith("mail-canary", { envFrom: [{ secretRef: { name: "mailgun-shared" } }] }),
        ],
      };
      return v(`${how} (${fast})`, replace(rs[how] ?? []));
    }),
  legit: fc
    .tuple(
      fc.constantFrom("*/20 * * * *", "0,20,40 * * * *", "*/30 * * * *", "@hourly", "5/20 * * * *"),
      fc.constantFrom(
        "plain",
        "suspended fast copy",
        "unrelated fast CronJob",
        "unrelated CronJob reading another key of the probe's Secret",
        "unrelated CronJob with envFrom from the stack",
        "concurrencyPolicy Allow",
      ),
    )
    .map(([schedule, how]) => {
      const v = variant("probe-within-mailgun-quota", "clean");
      const rs = [probe("email-roundtrip-monitor", schedule, { backoffLimit: 0 })];
      if (how === "suspended fast copy") {
        const copy = probe("roundtrip-canary", "* * * * *", { backoffLimit: 0 });
        (copy.properties.spec as Record<string, unknown>).suspend = true;
        rs.push(copy);
      }
      if (how === "unrelated fast CronJob")
        rs.push(
          workload("kubernetes:batch/v1:CronJob", "cleanup", NS, {
            restartPolicy: "Never",
            containers: [{ name: "c", image: "docker.io/library/busybox:1.37.0" }],
          }),
        );
      if (how === "unrelated CronJob reading another key of the probe's Secret")
        rs.push(
          cronWith("imap-check", {
            env: [
              { name: "PW", valueFrom: { secretKeyRef: { name: "probe", key: "imap_password" } } },
            ],
          }),
        );
      if (how === "unrelated CronJob with envFrom from the stack")
        rs.push(
          cronWith("imap-check", { envFrom: [{ configMapRef: { name: "mailserver-env" } }] }),
        );
      if (how === "concurrencyPolicy Allow")
        (rs[0]?.properties.spec as Record<string, unknown>).concurrencyPolicy = "Allow";
      const cron = rs.find((r) => r.name === "cleanup");
      if (cron) (cron.properties.spec as Record<string, unknown>).schedule = "* * * * *";
      return v(`${how}: ${schedule}`, replace(rs));
    }),
};

export const FAMILIES: Family[] = [
  fail2ban,
  etpLocal,
  spfBrevo,
  spfValid,
  spfUnresolved,
  dmarc,
  reportDestination,
  mtaSts,
  tlsRpt,
  dkim,
  dkimLegacy,
  dnsOnly,
  imagePinned,
  netCaps,
  dataProtected,
  noSecrets,
  dmsEnv,
  probeQuota,
];

/** Fixed seed: a failure names its variant and reproduces on every run. */
export const SEED = 20261124;
