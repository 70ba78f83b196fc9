/**
 * prometheus-reads-monitoring: the pack learns what the live Prometheus server loads from the record
 * the program writes on its rules ConfigMap (from `.get()` reads at preview), and judges the
 * program's real output by it. Also: the operator setup, and preview unknowns.
 */
import * as assert from "node:assert/strict";
import type { AnalyzerResource } from "../../tools/analyzer/client";
import { UNKNOWN } from "../../tools/analyzer/client";
import { itemsFromRun } from "../../tools/offline/run-items";
import { liveCluster, liveKey } from "../../tools/world/live-cluster";
import { prodRun } from "../helpers/program";
import { analyzeAll, mandatory, summary, usePack } from "./harness";
import {
  goodStack,
  OBSERVED_SERVER_ANNOTATION,
  probeCronJob,
  rulesConfigMap,
  withResource,
} from "./fixtures";

const POLICY = "prometheus-reads-monitoring";
const mine = <T extends { policyName: string }>(ds: T[]): T[] =>
  ds.filter((d) => d.policyName === POLICY);

/** The prod program's resources as the engine hands them to the pack (inputs). */
async function programResources(): Promise<AnalyzerResource[]> {
  const items = itemsFromRun(await prodRun());
  return (
    items
      .filter((i) => i.custom)
      // A copy: the run is shared by every test of the process.
      .map((i) => ({
        type: i.type,
        name: i.name,
        urn: i.urn,
        properties: structuredClone(i.inputs),
      }))
  );
}

function rulesOf(resources: AnalyzerResource[]): AnalyzerResource {
  const r = resources.find(
    (x) =>
      (x.properties.metadata as { name?: string } | undefined)?.name ===
      "mailserver-prometheus-rules",
  );
  assert.ok(r, "the program ships no rules ConfigMap");
  return r;
}

describe("prometheus-reads-monitoring (setup: chart)", () => {
  const pack = usePack({ [POLICY]: { setup: "chart" } });

  it("passes the program's own output: its record shows the live server loads the rules", async () => {
    const ds = await analyzeAll(pack(), await programResources());
    assert.deepEqual(mine(ds), [], summary(ds));
  });

  it("fails the program's output once the record is gone: nothing proves a reader", async () => {
    const resources = await programResources();
    const meta = rulesOf(resources).properties.metadata as { annotations: Record<string, string> };
    delete meta.annotations[OBSERVED_SERVER_ANNOTATION];
    const ds = mandatory(await analyzeAll(pack(), resources));
    assert.match(mine(ds)[0]?.message ?? "", /carries no readable/, summary(ds));
  });

  it("fails the program's output when the recorded server stopped mounting the rules", async () => {
    const resources = await programResources();
    const meta = rulesOf(resources).properties.metadata as { annotations: Record<string, string> };
    const record = JSON.parse(meta.annotations[OBSERVED_SERVER_ANNOTATION]) as Record<
      string,
      unknown
    >;
    meta.annotations[OBSERVED_SERVER_ANNOTATION] = JSON.stringify({ ...record, mounts: [] });
    const ds = mandatory(await analyzeAll(pack(), resources));
    assert.match(mine(ds)[0]?.message ?? "", /does not mount it as a directory/, summary(ds));
  });

  it("judges the chart's own rule ConfigMap if the stack held it: its Helm label proves nothing", async () => {
    // The engine hands a pack no read resource, so a ConfigMap the pack sees is the stack's own.
    const chartOwn =
      liveCluster()[liveKey("kubernetes:core/v1:ConfigMap", "monitoring/prometheus-server")];
    const held: AnalyzerResource = {
      type: "kubernetes:core/v1:ConfigMap",
      name: "monitoring-prometheus-server-config",
      properties: chartOwn,
    };
    const labelled = mandatory(await analyzeAll(pack(), [...goodStack(), held]));
    assert.equal(mine(labelled).length, 1, summary(labelled));
    assert.match(
      mine(labelled)[0]?.message ?? "",
      /ConfigMap monitoring\/prometheus-server holds Prometheus rules \(alerting_rules\.yml\), but carries no readable/,
    );
    const unlabelled = structuredClone(chartOwn);
    delete (unlabelled.metadata as Record<string, unknown>).labels;
    const flagged = mandatory(
      await analyzeAll(pack(), [...goodStack(), { ...held, properties: unlabelled }]),
    );
    assert.equal(mine(flagged).length, 1, summary(flagged));
  });

  it("reads a CronJob's scrape annotations from its job template", async () => {
    const probe = probeCronJob("*/20 * * * *");
    const spec = probe.properties.spec as { jobTemplate: { spec: { template: object } } };
    const template = spec.jobTemplate.spec.template as Record<string, unknown>;
    template.metadata = {
      annotations: { "prometheus.io/scrape": "true", "prometheus.io/port": "9901" },
    };
    const ds = mandatory(await analyzeAll(pack(), withResource(probe)));
    assert.match(
      mine(ds)[0]?.message ?? "",
      /CronJob email-roundtrip-monitor asks Prometheus to scrape port 9901/,
      summary(ds),
    );
  });

  it("leaves an unknown record to the preview advisory", async () => {
    const cm = rulesConfigMap();
    (cm.properties.metadata as Record<string, unknown>).annotations = {
      [OBSERVED_SERVER_ANNOTATION]: UNKNOWN.string,
    };
    const ds = mine(await analyzeAll(pack(), withResource(cm)));
    assert.deepEqual(mandatory(ds), [], summary(ds));
    assert.ok(
      ds.some((d) => d.enforcementLevel === "advisory"),
      summary(ds),
    );
  });
});

describe("prometheus-reads-monitoring (setup: operator)", () => {
  const pack = usePack({ [POLICY]: { setup: "operator" } });
  const rule: AnalyzerResource = {
    type: "kubernetes:monitoring.coreos.com/v1:PrometheusRule",
    name: "alerts",
    properties: {
      metadata: { name: "mailserver-alerts", namespace: "mailserver" },
      spec: { groups: [{ name: "mail", rules: [] }] },
    },
  };

  it("accepts a PrometheusRule", async () => {
    const stack = goodStack().filter((r) => r.name !== "mailserver-prometheus-rules");
    const ds = await analyzeAll(pack(), [...stack, rule]);
    assert.deepEqual(mine(ds), [], summary(ds));
  });

  it("refuses a rules ConfigMap, which the Operator does not load", async () => {
    const ds = mandatory(await analyzeAll(pack(), goodStack()));
    assert.match(
      mine(ds)[0]?.message ?? "",
      /loads rules from PrometheusRule objects/,
      summary(ds),
    );
  });
});
