/**
 * What the program's `.get()` reads find in the cluster, for runs under mocks: the live objects
 * as the cluster serves them, keyed by resource type and id. Each object is the one the owner's
 * infrastructure renders (ViktorBarzin/infra @ 0cd4afb6), with the changes this program asks for
 * applied, so that a plan of the prod stack checks the seams against a realistic consumer.
 */
import { parse } from "yaml";
import {
  chartValues,
  prometheusServerConfigMap,
  prometheusServerDeployment,
  type ServerValues,
} from "../../lib/charts/prometheus";
import { loadStackConfig } from "../cli/project";

export type LiveCluster = Record<string, Record<string, unknown>>;

/** Key of a live object: the resource type token and the id `.get()` passes. */
export function liveKey(type: string, id: string): string {
  return `${type} ${id}`;
}

/**
 * The chart values this program exports for Pulumi.prod.yaml's
 * `mailserver:monitoring.prometheus.rulesMountPath`, as the owner applies them.
 */
function appliedValues(): ServerValues {
  const monitoring = JSON.parse(loadStackConfig("prod")["mailserver:monitoring"] ?? "{}") as {
    prometheus?: { rulesMountPath?: string };
  };
  const dir = monitoring.prometheus?.rulesMountPath;
  if (!dir) {
    throw new Error("Pulumi.prod.yaml sets no mailserver:monitoring.prometheus.rulesMountPath");
  }
  return parse(chartValues(dir)) as ServerValues;
}

/** The cluster as it runs once the monitoring stack carries the values this program exports. */
export function liveCluster(): LiveCluster {
  const values = appliedValues();
  return {
    [liveKey("kubernetes:apps/v1:Deployment", "monitoring/prometheus-server")]:
      prometheusServerDeployment(values),
    [liveKey("kubernetes:core/v1:ConfigMap", "monitoring/prometheus-server")]:
      prometheusServerConfigMap(values.serverFiles["prometheus.yml"].rule_files),
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
