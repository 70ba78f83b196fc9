/**
 * The alerts reach the Prometheus the cluster runs, checked from the consumer's side: the program
 * reads the live `prometheus-server` Deployment and its prometheus.yml (today's as
 * world/today/kubernetes.yaml records them; variants as chart 25.8.2 renders the program's values,
 * lib/charts/prometheus.ts) and the pack refuses the plan when that server would not load the rule
 * file, naming the chart values to add.
 */
import { strict as assert } from "node:assert";
import { parse } from "yaml";
import {
  CHART_DEFAULT_RULE_FILES,
  chartValues,
  loadProblems,
  observeServer,
  prometheusServerConfigMap,
  prometheusServerDeployment,
  RULES_CONFIGMAP,
  RULES_FILE,
  type DeploymentSpecLike,
  type ServerValues,
} from "../../lib/charts/prometheus";
import { liveCluster, liveKey, type LiveCluster } from "../../tools/world/live-cluster";
import { analyze } from "../../tools/analyzer/analysis";
import { itemsFromRun } from "../../tools/offline/run-items";
import { kubernetesObjects, loadWorld } from "../../tools/world/load";
import { loadStackConfig, prodRun, readyWorld, runProgram } from "../helpers/program";
import { usePack } from "../policy/harness";

const DEPLOYMENT_KEY = liveKey("kubernetes:apps/v1:Deployment", "monitoring/prometheus-server");
const CONFIG_KEY = liveKey("kubernetes:core/v1:ConfigMap", "monitoring/prometheus-server");
const DIR = "/etc/mailserver-rules";

/** The chart values this program exports, edited. */
function values(edit: (v: ServerValues) => void): ServerValues {
  const v = parse(chartValues(DIR)) as ServerValues;
  edit(v);
  return v;
}

function cluster(server: ServerValues, ruleFiles?: string[]): LiveCluster {
  return {
    ...liveCluster(),
    [DEPLOYMENT_KEY]: prometheusServerDeployment(server),
    [CONFIG_KEY]: prometheusServerConfigMap(
      ruleFiles ?? server.serverFiles["prometheus.yml"].rule_files,
    ),
  };
}

/** The server objects of today's recorded world. */
function todayServer(): LiveCluster {
  const today = kubernetesObjects(loadWorld("today"));
  return Object.fromEntries([DEPLOYMENT_KEY, CONFIG_KEY].map((k) => [k, today.get(k) ?? {}]));
}

describe("alert rules reach the chart's Prometheus server", function () {
  this.timeout(120_000);
  const pack = usePack();

  /** What the pack's prometheus-reads-monitoring says of a plan against `live`, or the run's error. */
  async function refusal(live: LiveCluster): Promise<string> {
    let run;
    try {
      run = await runProgram({ config: loadStackConfig("prod"), live });
    } catch (err) {
      return String(err);
    }
    const vs = await analyze(pack(), itemsFromRun(run), run.stackUrn);
    const mine = vs.filter(
      (v) => v.level === "mandatory" && v.policy === "prometheus-reads-monitoring",
    );
    assert.ok(mine.length > 0, "the pack passed a server that does not load the rules");
    return mine.map((v) => v.message).join("\n");
  }

  it("plans against the server once the exported chart values are applied", async () => {
    const run = await prodRun();
    assert.equal(run.outputs.alertRules, RULES_CONFIGMAP);
    assert.equal(run.outputs.prometheusChartValues, chartValues(DIR));
  });

  it("refuses today's server (world/today), which does not mount the rules, and names the values", async () => {
    const message = await refusal(todayServer());
    assert.match(message, /monitoring\/prometheus-server does not mount it as a directory/);
    assert.match(message, /apply the chart values the program exports as prometheusChartValues/);
  });

  it("refuses a server whose prometheus.yml lists no matching rule_files entry", async () => {
    const message = await refusal(
      cluster(
        values(() => undefined),
        [...CHART_DEFAULT_RULE_FILES],
      ),
    );
    assert.match(
      message,
      /no rule_files entry of .* loads \/etc\/mailserver-rules\/mailserver\.rules\.yml/,
    );
  });

  it("refuses a server whose config-reloader does not watch the rules", async () => {
    const message = await refusal(
      cluster(values((v) => (v.configmapReload.prometheus.extraVolumeDirs = []))),
    );
    assert.match(message, /no config-reloader of .* watches it/);
  });

  it("refuses a server that reads nothing: the Deployment is missing", async () => {
    const world = structuredClone(readyWorld());
    const k8s = world.files.kubernetes;
    if (k8s) k8s.facts = k8s.facts.filter((f) => f.id !== DEPLOYMENT_KEY);
    await assert.rejects(
      runProgram({ config: loadStackConfig("prod"), world }),
      /monitoring\/prometheus-server: not found/,
    );
  });
});

describe("observing the server", () => {
  const spec = (v: ServerValues) =>
    (prometheusServerDeployment(v) as { spec: DeploymentSpecLike }).spec;
  const good = values(() => undefined);

  it("finds the Prometheus container's directory mount and the reloader's watch", () => {
    const obs = observeServer("s", spec(good), undefined, RULES_CONFIGMAP);
    assert.deepEqual(obs.mounts, [DIR]);
    assert.deepEqual(obs.watched, [DIR]);
  });

  it("does not count a subPath mount, which never sees an update", () => {
    const v = values((x) => {
      x.server.extraVolumeMounts = [
        { name: "mailserver-rules", mountPath: `${DIR}/${RULES_FILE}`, subPath: RULES_FILE },
      ];
    });
    assert.deepEqual(observeServer("s", spec(v), undefined, RULES_CONFIGMAP).mounts, []);
  });

  it("matches rule_files globs the way Prometheus does (one path segment per *)", () => {
    const obs = {
      server: "s",
      configMap: RULES_CONFIGMAP,
      mounts: [DIR],
      watched: [DIR],
      ruleFiles: ["/etc/*.yml"],
    };
    assert.equal(loadProblems(obs, [RULES_FILE]).length, 1);
    obs.ruleFiles = [`${DIR}/*.yml`];
    assert.deepEqual(loadProblems(obs, [RULES_FILE]), []);
    obs.ruleFiles = [`${DIR}/*.yaml`];
    assert.equal(loadProblems(obs, [RULES_FILE]).length, 1);
  });

  it("reads rule_files from the live prometheus.yml", () => {
    const cm = prometheusServerConfigMap(good.serverFiles["prometheus.yml"].rule_files) as {
      data: Record<string, string>;
    };
    const obs = observeServer("s", spec(good), cm.data["prometheus.yml"], RULES_CONFIGMAP);
    assert.ok(obs.ruleFiles.includes(`${DIR}/*.yml`));
  });
});
