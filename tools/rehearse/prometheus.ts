/**
 * The monitoring half of scenario "3 Probe and Prometheus": a real Prometheus server configured as
 * the owner's prometheus-community chart 25.8.2 configures it, and a real Pushgateway.
 *
 * The server's config is the chart's own `prometheus.yml` as the program read it at preview
 * (./prometheus/chart-server.ts: the chart's templates/cm.yaml with the owner's serverFiles), its
 * flags are the chart's container args (templates/deploy.yaml) and the rule file sits where the
 * chart mounts the rules ConfigMap (`server.extraVolumeMounts`). Only the Kubernetes service
 * discovery is replaced, by static stand-ins (./prometheus/discovery.ts, ./prometheus/config.ts).
 * The processes: ./prometheus/processes.ts; the HTTP API and PromQL selectors: ./prometheus/api.ts,
 * ./prometheus/promql.ts.
 */
export { getText, api, query, value, type Sample } from "./prometheus/api";
export { chartJob, chartServer, keepsMetric, type ChartServer } from "./prometheus/chart-server";
export { REHEARSAL_INTERVAL, rehearsalConfig, type RehearsalConfig } from "./prometheus/config";
export {
  podTargets,
  pushgatewayService,
  serviceTargets,
  type StaticTarget,
} from "./prometheus/discovery";
export {
  debianVersion,
  startPrometheus,
  startPushgateway,
  stopChild,
  type Server,
} from "./prometheus/processes";
export { selectors, type Selector } from "./prometheus/promql";
