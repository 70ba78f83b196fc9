/**
 * A few lines a resource for the plan's tree: what matters about it (Kubernetes kind, images,
 * ports, capabilities, DNS record content, protection), from its redacted inputs only.
 */
import { isObject, redact, SECRET_TEXT, type Item } from "./model";

type Obj = Record<string, unknown>;

function get(node: unknown, dotted: string): unknown {
  return dotted.split(".").reduce<unknown>((n, k) => (isObject(n) ? n[k] : undefined), node);
}

function list(value: unknown): Obj[] {
  return Array.isArray(value) ? value.filter(isObject) : [];
}

export function short(value: unknown, max = 90): string {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  if (text === undefined) return "";
  const flat = text.replace(/\n/g, "\\n");
  return flat.length > max ? `${flat.slice(0, max - 20)}…(${text.length} chars)` : flat;
}

/** Wraps `key=value` parts into lines of at most ~100 characters. */
function wrap(label: string, parts: string[]): string[] {
  const lines: string[] = [];
  let line = `${label}:`;
  for (const part of parts) {
    if (line.length + part.length + 1 > 100 && line !== `${label}:`) {
      lines.push(line);
      line = "  ";
    }
    line += ` ${part}`;
  }
  lines.push(line);
  return lines;
}

/** A property value as display text (objects as JSON, absent as ""). */
function s(value: unknown): string {
  if (value === undefined) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return `${value}`;
  return JSON.stringify(value);
}

const POD_SPEC_PATH: Record<string, string> = {
  Deployment: "spec.template.spec",
  StatefulSet: "spec.template.spec",
  DaemonSet: "spec.template.spec",
  ReplicaSet: "spec.template.spec",
  Job: "spec.template.spec",
  CronJob: "spec.jobTemplate.spec.template.spec",
  Pod: "spec",
};

/** Lines describing what matters about a resource, from its redacted inputs. */
export function describe(item: Item): string[] {
  const inputs = redact(item.inputs) as Obj;
  const lines: string[] = [];
  const flags = [item.protect ? "protect" : "", item.retainOnDelete ? "retainOnDelete" : ""].filter(
    Boolean,
  );
  if (item.type.startsWith("kubernetes:") && typeof inputs.kind === "string") {
    lines.push(...describeKubernetes(inputs));
  } else if (/^cloudflare:index\/(dnsRecord:DnsRecord|record:Record)$/.test(item.type)) {
    const content = inputs.content ?? inputs.value;
    const extra = [
      inputs.priority !== undefined ? `priority ${s(inputs.priority)}` : "",
      inputs.proxied !== undefined ? `proxied ${s(inputs.proxied)}` : "",
      inputs.ttl !== undefined ? `ttl ${s(inputs.ttl)}` : "",
    ].filter(Boolean);
    lines.push(`${s(inputs.type)} ${s(inputs.name)} → ${short(content, 110)}`);
    if (extra.length) lines.push(extra.join(", "));
  } else if (item.custom) {
    const scalars = Object.entries(inputs)
      .filter(([, v]) => v === null || typeof v !== "object")
      .slice(0, 6)
      .map(([k, v]) => `${k}=${short(v, 60)}`);
    if (scalars.length) lines.push(...wrap("inputs", scalars));
  }
  if (flags.length) lines.push(flags.join(", "));
  return lines;
}

function describeKubernetes(inputs: Obj): string[] {
  const kind = s(inputs.kind);
  const ns = get(inputs, "metadata.namespace");
  const name = get(inputs, "metadata.name");
  const lines = [`${kind} ${typeof ns === "string" ? `${ns}/` : ""}${s(name ?? "(auto-named)")}`];
  const podPath = POD_SPEC_PATH[kind];
  if (podPath) {
    const top = [
      get(inputs, "spec.replicas") !== undefined
        ? `replicas ${s(get(inputs, "spec.replicas"))}`
        : "",
      typeof get(inputs, "spec.strategy.type") === "string"
        ? `strategy ${s(get(inputs, "spec.strategy.type"))}`
        : "",
      typeof get(inputs, "spec.schedule") === "string"
        ? `schedule "${s(get(inputs, "spec.schedule"))}"`
        : "",
      typeof get(inputs, "spec.concurrencyPolicy") === "string"
        ? `concurrencyPolicy ${s(get(inputs, "spec.concurrencyPolicy"))}`
        : "",
    ].filter(Boolean);
    if (top.length) lines.push(top.join(", "));
    const pod = get(inputs, podPath);
    const containers = [
      ...list(get(pod, "initContainers")).map((c) => ({ c, init: true })),
      ...list(get(pod, "containers")).map((c) => ({ c, init: false })),
    ];
    for (const { c, init } of containers) {
      const ports = list(c.ports).map((p) => `${s(p.containerPort)}/${s(p.protocol ?? "TCP")}`);
      const add = get(c, "securityContext.capabilities.add");
      const parts = [
        `${init ? "init " : ""}container ${s(c.name)}: ${s(c.image)}`,
        ports.length ? `ports ${ports.join(",")}` : "",
        Array.isArray(add) && add.length ? `caps +${add.join(",+")}` : "",
      ].filter(Boolean);
      lines.push(parts.join("  "));
    }
  } else if (kind === "Service") {
    const spec = (get(inputs, "spec") ?? {}) as Obj;
    const annotations = (get(inputs, "metadata.annotations") ?? {}) as Obj;
    const ip = Object.entries(annotations).find(([k]) => k.endsWith("/loadBalancerIPs"));
    lines.push(
      [
        `type ${s(spec.type ?? "ClusterIP")}`,
        spec.externalTrafficPolicy ? `externalTrafficPolicy ${s(spec.externalTrafficPolicy)}` : "",
        ip ? `IP ${s(ip[1])}` : "",
        spec.loadBalancerIP ? `loadBalancerIP ${s(spec.loadBalancerIP)}` : "",
      ]
        .filter(Boolean)
        .join(", "),
    );
    const ports = list(spec.ports).map(
      (p) =>
        `${p.name ? `${s(p.name)} ` : ""}${s(p.port)}→${s(p.targetPort ?? p.port)}/${s(p.protocol ?? "TCP")}`,
    );
    if (ports.length) lines.push(...wrap("ports", ports));
  } else if (kind === "ConfigMap") {
    const data = {
      ...((get(inputs, "data") ?? {}) as Obj),
      ...((get(inputs, "binaryData") ?? {}) as Obj),
    };
    const parts = Object.entries(data).map(([k, v]) =>
      typeof v === "string" && !v.includes("\n") && v.length <= 40
        ? `${k}=${v}`
        : `${k}(${typeof v === "string" ? v.split("\n").length : "?"} lines)`,
    );
    if (parts.length) lines.push(...wrap("data", parts));
  } else if (kind === "Secret") {
    const keys = [
      ...Object.keys(get(inputs, "data") ?? {}),
      ...Object.keys(get(inputs, "stringData") ?? {}),
    ];
    const whole = get(inputs, "stringData") === SECRET_TEXT || get(inputs, "data") === SECRET_TEXT;
    lines.push(
      `type ${s(get(inputs, "type") ?? "Opaque")}, ${whole ? "data [secret]" : `keys ${keys.join(", ") || "(none)"} [secret]`}`,
    );
  } else if (kind === "PersistentVolumeClaim") {
    lines.push(
      [
        `storageClass ${s(get(inputs, "spec.storageClassName") ?? "(default)")}`,
        `size ${s(get(inputs, "spec.resources.requests.storage"))}`,
        `access ${((get(inputs, "spec.accessModes") as string[] | undefined) ?? []).join(",")}`,
      ].join(", "),
    );
  } else if (kind === "Ingress") {
    const rules = list(get(inputs, "spec.rules")).flatMap((r) =>
      list(get(r, "http.paths")).map(
        (p) =>
          `${s(r.host ?? "*")}${s(p.path ?? "/")} → ${s(get(p, "backend.service.name"))}:${s(get(p, "backend.service.port.number") ?? get(p, "backend.service.port.name"))}`,
      ),
    );
    const cls = get(inputs, "spec.ingressClassName");
    if (cls) lines.push(`class ${s(cls)}`);
    if (rules.length) lines.push(...wrap("rules", rules));
  } else if (Array.isArray(get(inputs, "spec.groups"))) {
    const groups = list(get(inputs, "spec.groups"));
    const rules = groups.flatMap((g) => list(g.rules));
    const alerts = rules.map((r) => r.alert).filter((a): a is string => typeof a === "string");
    lines.push(`${groups.length} groups, ${rules.length} rules`);
    if (alerts.length) lines.push(...wrap("alerts", alerts));
  } else {
    const spec = get(inputs, "spec");
    if (isObject(spec)) lines.push(...wrap("spec", Object.keys(spec)));
  }
  return lines;
}
