/**
 * The recorded cluster against the models the seam tests use: the crowdsec chart model
 * (lib/charts/crowdsec.ts, which renders chart values the way templates/agent-daemonSet.yaml does)
 * must render the owner's values into exactly the agent the world records, and the world's
 * address holders are the ones the owner's repository declares.
 */
import * as assert from "node:assert/strict";
import { renderAcquisYaml, renderAgentDaemonSet } from "../../lib/charts/crowdsec";
import { OWNER_VALUES } from "../../tools/world/crowdsec-agent";
import { kubernetesObjects, loadWorld } from "../../tools/world/load";

type Pod = {
  spec: {
    template: {
      spec: { containers: { name: string; volumeMounts: unknown[] }[]; volumes: unknown[] };
    };
  };
};

const today = kubernetesObjects(loadWorld("today"));
const AGENT = "kubernetes:apps/v1:DaemonSet crowdsec/crowdsec-agent";

describe("world/today/kubernetes.yaml against the chart models", () => {
  it("the crowdsec chart model renders the owner's values into the agent the world records", () => {
    const recorded = today.get(AGENT) as Pod | undefined;
    assert.ok(recorded, AGENT);
    const model = renderAgentDaemonSet(OWNER_VALUES) as Pod;
    const agent = (p: Pod) =>
      p.spec.template.spec.containers.find((c) => c.name === "crowdsec-agent");
    assert.deepEqual(agent(model)?.volumeMounts, agent(recorded)?.volumeMounts);
    assert.deepEqual(model.spec.template.spec.volumes, recorded.spec.template.spec.volumes);
  });

  it("and places the agent's pods as the world records (tolerations, node constraints)", () => {
    const recorded = today.get(AGENT) as Pod | undefined;
    const model = renderAgentDaemonSet(OWNER_VALUES) as Pod;
    const placement = (p: Pod | undefined) => {
      const spec = p?.spec.template.spec as Record<string, unknown> | undefined;
      return ["tolerations", "nodeSelector", "affinity", "nodeName"].map((f) => spec?.[f]);
    };
    assert.deepEqual(placement(model), placement(recorded));
    assert.deepEqual(placement(recorded)[0], [
      { key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" },
    ]);
  });

  it("and the chart's acquis.yaml, stale mail entries included", () => {
    const cm = today.get("kubernetes:core/v1:ConfigMap crowdsec/acquis-configmap") as
      { data: Record<string, string> } | undefined;
    assert.equal(renderAcquisYaml(OWNER_VALUES).trim(), cm?.data["acquis.yaml"]?.trim());
  });

  it("10.0.20.202 is held by kms/windows-kms today, and by nothing in the ready world", () => {
    const holders = (objects: Map<string, Record<string, unknown>>) =>
      [...objects]
        .filter(([id]) => id.startsWith("kubernetes:core/v1:Service "))
        .filter(([, o]) => JSON.stringify(o).includes('"10.0.20.202"'))
        .map(([id]) => id);
    assert.deepEqual(holders(today), ["kubernetes:core/v1:Service kms/windows-kms"]);
    assert.deepEqual(holders(kubernetesObjects(loadWorld("ready"))), []);
  });
});
