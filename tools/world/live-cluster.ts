/**
 * What the program's `.get()` reads find in the cluster, for runs under mocks: the live objects
 * as the cluster serves them, keyed by resource type and id. Each object is the one the owner's
 * infrastructure renders (ViktorBarzin/infra @ 0cd4afb6), with the changes this program asks for
 * applied, so that a plan of the prod stack checks the seams against a realistic consumer.
 */
import { parse, stringify } from "yaml";
import { chartValues } from "../../lib/prometheus-chart";

export type LiveCluster = Record<string, Record<string, unknown>>;

/** Key of a live object: the resource type token and the id `.get()` passes. */
export function liveKey(type: string, id: string): string {
  return `${type} ${id}`;
}

/** Labels chart 25.8.2 puts on the server's objects (_helpers.tpl prometheus.server.labels). */
const SERVER_LABELS = {
  "app.kubernetes.io/component": "server",
  "app.kubernetes.io/name": "prometheus",
  "app.kubernetes.io/instance": "prometheus",
  "app.kubernetes.io/version": "v2.48.1",
  "helm.sh/chart": "prometheus-25.8.2",
  "app.kubernetes.io/managed-by": "Helm",
  "app.kubernetes.io/part-of": "prometheus",
};

const RULES_DIR = "/etc/mailserver-rules";
/** The chart values this program exports (Pulumi.prod.yaml's rulesMountPath), as the owner applies them. */
const added = parse(chartValues(RULES_DIR)) as {
  server: { extraVolumes: unknown[]; extraVolumeMounts: unknown[] };
  configmapReload: { prometheus: { extraVolumeDirs: string[]; extraVolumeMounts: unknown[] } };
  serverFiles: { "prometheus.yml": { rule_files: string[] } };
};

/**
 * The `prometheus-server` Deployment as prometheus-community chart 25.8.2 (templates/deploy.yaml)
 * renders it from the owner's values (stacks/monitoring/modules/monitoring/prometheus_chart_values.tpl:
 * Recreate, extraFlags, the WAL tmpfs and backup volumes, the backup sidecar), plus the values above.
 */
export function prometheusServerDeployment(values: typeof added = added): Record<string, unknown> {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "prometheus-server", namespace: "monitoring", labels: SERVER_LABELS },
    spec: {
      replicas: 1,
      strategy: { type: "Recreate" },
      selector: {
        matchLabels: {
          "app.kubernetes.io/component": "server",
          "app.kubernetes.io/name": "prometheus",
        },
      },
      template: {
        spec: {
          containers: [
            {
              name: "prometheus-server-configmap-reload",
              image: "quay.io/prometheus-operator/prometheus-config-reloader:v0.70.0",
              args: [
                "--watched-dir=/etc/config",
                "--reload-url=http://127.0.0.1:9090/-/reload",
                ...values.configmapReload.prometheus.extraVolumeDirs.map(
                  (d) => `--watched-dir=${d}`,
                ),
              ],
              volumeMounts: [
                { name: "config-volume", mountPath: "/etc/config", readOnly: true },
                ...values.configmapReload.prometheus.extraVolumeMounts,
              ],
            },
            {
              name: "prometheus-server",
              image: "quay.io/prometheus/prometheus:v2.48.1",
              args: [
                "--storage.tsdb.retention.time=26w",
                "--config.file=/etc/config/prometheus.yml",
                "--storage.tsdb.path=/data",
                "--web.console.libraries=/etc/prometheus/console_libraries",
                "--web.console.templates=/etc/prometheus/consoles",
                "--web.enable-admin-api",
                "--web.enable-lifecycle",
              ],
              ports: [{ containerPort: 9090 }],
              volumeMounts: [
                { name: "config-volume", mountPath: "/etc/config" },
                { name: "storage-volume", mountPath: "/data", subPath: "" },
                { name: "prometheus-wal-tmpfs", mountPath: "/data/wal" },
                { name: "prometheus-backup", mountPath: "/backup" },
                ...values.server.extraVolumeMounts,
              ],
            },
            {
              name: "prometheus-backup",
              image: "docker.io/library/alpine:3.21",
              volumeMounts: [{ name: "prometheus-backup", mountPath: "/backup" }],
            },
          ],
          volumes: [
            { name: "config-volume", configMap: { name: "prometheus-server" } },
            {
              name: "storage-volume",
              persistentVolumeClaim: { claimName: "prometheus-data-proxmox" },
            },
            { name: "prometheus-wal-tmpfs", emptyDir: { medium: "Memory", sizeLimit: "2Gi" } },
            {
              name: "prometheus-backup",
              persistentVolumeClaim: { claimName: "monitoring-prometheus-backup-host" },
            },
            ...values.server.extraVolumes,
          ],
        },
      },
    },
  };
}

/** The chart's server ConfigMap: prometheus.yml (scrape configs abridged) with the rule_files. */
export function prometheusServerConfigMap(
  ruleFiles: string[] = added.serverFiles["prometheus.yml"].rule_files,
): Record<string, unknown> {
  const prometheusYml = stringify({
    global: { scrape_interval: "2m", evaluation_interval: "1m" },
    rule_files: ruleFiles,
    scrape_configs: [{ job_name: "kubernetes-pods", kubernetes_sd_configs: [{ role: "pod" }] }],
  });
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "prometheus-server", namespace: "monitoring", labels: SERVER_LABELS },
    data: {
      "allow-snippet-annotations": "false",
      "prometheus.yml": prometheusYml,
      // Abridged: the owner's file holds many groups; one is enough to be a rule file.
      "alerting_rules.yml": stringify({ groups: [{ name: "Image Ownership", rules: [] }] }),
      "recording_rules.yml": "{}\n",
    },
  };
}

/** The cluster as it runs once the monitoring stack carries the values this program exports. */
export function liveCluster(): LiveCluster {
  return {
    [liveKey("kubernetes:apps/v1:Deployment", "monitoring/prometheus-server")]:
      prometheusServerDeployment(),
    [liveKey("kubernetes:core/v1:ConfigMap", "monitoring/prometheus-server")]:
      prometheusServerConfigMap(),
  };
}

/** A cluster running the Prometheus Operator: the two CRDs the operator setup reads. */
export function operatorCrds(): LiveCluster {
  return Object.fromEntries(
    ["prometheusrules", "podmonitors"].map((plural) => {
      const name = `${plural}.monitoring.coreos.com`;
      return [
        liveKey("kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition", name),
        { metadata: { name }, spec: { group: "monitoring.coreos.com" } },
      ];
    }),
  );
}
