/**
 * Scenario 3's Pushgateway and Prometheus: the chart's server with its own prometheus.yml (the
 * discovery replaced by stand-ins for the mail pod and the Pushgateway's Service) and the rendered
 * rule file where the chart mounts it.
 */
import { loadWorld } from "../../world/load";
import { RULES_CONFIGMAP } from "../../../lib/charts/prometheus";
import { freePort } from "../free-port";
import { POD_ADDRESS } from "../pod";
import {
  debianVersion,
  getText,
  podTargets,
  pushgatewayService,
  REHEARSAL_INTERVAL,
  rehearsalConfig,
  serviceTargets,
  startPrometheus,
  startPushgateway,
  type ChartServer,
  type RehearsalConfig,
  type Server,
} from "../prometheus";
import { MAIL, type MailPodTemplate, type RenderedRules } from "./plan";
import { firstLines } from "./report";
import { until } from "./until";

export interface Monitoring {
  pg: Server;
  prom: Server;
  config: RehearsalConfig;
  /** The evidence line: what runs, with which config, in place of what. */
  evidence: string;
}

/**
 * Starts the Pushgateway, then Prometheus (each pushed onto `servers` as it starts, so a failure
 * of the second still stops the first); neither is ready yet.
 */
export async function startMonitoring(
  chart: ChartServer,
  rules: RenderedRules,
  tpl: MailPodTemplate,
  work: string,
  servers: Server[],
): Promise<Monitoring> {
  const [pgPort, promPort] = [await freePort(), await freePort()];
  const pg = startPushgateway(pgPort, work);
  servers.push(pg);
  const pgService = pushgatewayService(loadWorld("ready"));
  const config = rehearsalConfig(chart.prometheusYml, {
    pod: podTargets(MAIL.namespace, `${MAIL.deployment}-rehearsal`, POD_ADDRESS, tpl),
    service: serviceTargets(pgService, `127.0.0.1:${pgPort}`),
  });
  const etc = { [chart.configFile]: config.text, [rules.path]: rules.text };
  const prom = startPrometheus(chart, etc, promPort, work);
  servers.push(prom);
  const pgVersion = debianVersion("prometheus-pushgateway");
  const promVersion = debianVersion("prometheus");
  const evidence = `Prometheus: Debian prometheus ${promVersion} (the chart runs ${chart.image}) with the chart server's args (${chart.args.length}; --storage.tsdb.path and --web.listen-address=127.0.0.1:${promPort} replaced), ${chart.configFile} = the chart's prometheus.yml read from ConfigMap monitoring/prometheus-server with scrape_interval/evaluation_interval/scrape_timeout ${REHEARSAL_INTERVAL} for the rehearsal (chart: ${chart.intervals}); rule file ${rules.path} (the chart's mount of ConfigMap ${RULES_CONFIGMAP}); jobs with static stand-ins for Kubernetes discovery: ${config.kept.map((k) => `${k.job} (role ${k.role}, honor_labels ${k.honorLabels})`).join(", ")}; left out: ${config.dropped.map((d) => `${d.job} (${d.why})`).join(", ")}; Pushgateway: Debian prometheus-pushgateway ${pgVersion} (the chart's Service says app.kubernetes.io/version ${pgService.metadata?.labels?.["app.kubernetes.io/version"] ?? "?"}) on ${pg.url}`;
  return { pg, prom, config, evidence };
}

/** Waits for each server's /-/ready; throws with the last lines of its log when one is not. */
export async function ready(servers: Server[], signal: AbortSignal): Promise<void> {
  for (const s of servers) {
    const up = await until(() => getText(`${s.url}/-/ready`).then(() => true), 15_000, signal);
    if (!up) throw new Error(`${s.url} not ready: ${firstLines(s.log())}`);
  }
}
