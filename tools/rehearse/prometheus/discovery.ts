/**
 * Static stand-ins for the chart's Kubernetes service discovery: the targets a
 * `kubernetes_sd_configs` of role pod or service would find, with the `__meta_kubernetes_*` labels
 * it would attach (https://prometheus.io/docs/prometheus/latest/configuration/configuration/#kubernetes_sd_config),
 * so the chart's own relabel_configs pick the address, path and labels.
 */
import { CHART_NAMESPACE } from "./chart-server";

/** The pushgateway subchart's Service (world/today/kubernetes.yaml, prometheus-pushgateway 2.4.2). */
const PUSHGATEWAY_SERVICE = "prometheus-prometheus-pushgateway";

export interface StaticTarget {
  targets: string[];
  labels: Record<string, string>;
}

/** Prometheus' label-name sanitising of annotation and label keys (strutil.SanitizeLabelName). */
function sanitize(key: string): string {
  return key.replace(/[^a-zA-Z0-9_]/g, "_");
}

function kv(prefix: string, map: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(map ?? {})) {
    out[`${prefix}_${sanitize(k)}`] = v;
    out[`${prefix}present_${sanitize(k)}`] = "true";
  }
  return out;
}

interface PodTemplate {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: { containers?: { name?: string; ports?: { name?: string; containerPort?: number }[] }[] };
}

/**
 * The targets the pod role discovers for one pod of the template: one per declared container
 * port, `__address__` `<pod IP>:<port>`, with the pod's labels and annotations as meta labels.
 */
export function podTargets(
  namespace: string,
  podName: string,
  podIp: string,
  template: PodTemplate,
): StaticTarget[] {
  const base = {
    __meta_kubernetes_namespace: namespace,
    __meta_kubernetes_pod_name: podName,
    __meta_kubernetes_pod_ip: podIp,
    __meta_kubernetes_pod_phase: "Running",
    __meta_kubernetes_pod_ready: "true",
    __meta_kubernetes_pod_node_name: "rehearsal",
    ...kv("__meta_kubernetes_pod_label", template.metadata?.labels),
    ...kv("__meta_kubernetes_pod_annotation", template.metadata?.annotations),
  };
  return (template.spec?.containers ?? []).flatMap((c) =>
    (c.ports ?? []).map((p) => ({
      targets: [`${podIp}:${p.containerPort}`],
      labels: {
        ...base,
        __meta_kubernetes_pod_container_name: c.name ?? "",
        __meta_kubernetes_pod_container_port_name: p.name ?? "",
        __meta_kubernetes_pod_container_port_number: String(p.containerPort),
        __meta_kubernetes_pod_container_port_protocol: "TCP",
      },
    })),
  );
}

interface ServiceObject {
  metadata?: {
    name?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec?: { type?: string; ports?: { name?: string; port?: number; protocol?: string }[] };
}

/**
 * The targets the service role discovers for a Service: one per port. Its `__address__`
 * (`<service>.<namespace>.svc:<port>` in the cluster) is `address`, where the stand-in listens.
 */
export function serviceTargets(svc: ServiceObject, address: string): StaticTarget[] {
  const m = svc.metadata ?? {};
  return (svc.spec?.ports ?? []).map((p) => ({
    targets: [address],
    labels: {
      __meta_kubernetes_namespace: m.namespace ?? "",
      __meta_kubernetes_service_name: m.name ?? "",
      __meta_kubernetes_service_type: svc.spec?.type ?? "ClusterIP",
      __meta_kubernetes_service_port_name: p.name ?? "",
      __meta_kubernetes_service_port_number: String(p.port),
      __meta_kubernetes_service_port_protocol: p.protocol ?? "TCP",
      ...kv("__meta_kubernetes_service_label", m.labels),
      ...kv("__meta_kubernetes_service_annotation", m.annotations),
    },
  }));
}

/** The pushgateway Service as the world records it (the program does not read it). */
export function pushgatewayService(world: {
  files: Record<string, { facts: { id: string; value: unknown }[] }>;
}): ServiceObject {
  const id = `kubernetes:core/v1:Service ${CHART_NAMESPACE}/${PUSHGATEWAY_SERVICE}`;
  const f = world.files.kubernetes?.facts.find((x) => x.id === id);
  if (!f) throw new Error(`world has no ${id}`);
  return f.value as ServiceObject;
}
