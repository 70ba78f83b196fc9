/**
 * The CrowdSec seam from the consumer's side: the program reads the agent as the crowdsec chart
 * renders the owner's values (lib/charts/crowdsec.ts on tools/world/crowdsec-agent.ts, checked against world/today/kubernetes.yaml
 * in tests/world/kubernetes.test.ts), exports chart values, and applying those
 * values (Helm's merge, the chart's rendering) yields an agent that loads the mail acquisition;
 * the pack fails the preview until it does.
 */
import * as assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { parse, parseAllDocuments } from "yaml";
import type { PackConfig } from "../../tools/analyzer/client";
import {
  mergeValues,
  renderAcquisYaml,
  renderAgentDaemonSet,
  type Values,
} from "../../lib/charts/crowdsec";
import { liveObjects, OWNER_VALUES } from "../../tools/world/crowdsec-agent";
import { itemsFromRun } from "../../tools/offline/run-items";
import { analyze } from "../../tools/analyzer/analysis";
import type { Violation } from "../../tools/report/model";
import { find, loadStackConfig, runProgram } from "../helpers/program";
import { PACK_DIR, usePack } from "../policy/harness";

type Mount = { name: string; mountPath: string; subPath?: string };
type Volume = {
  name: string;
  configMap?: { name: string; items?: { key: string; path: string }[] };
};

function podSpec(values: Values) {
  const ds = renderAgentDaemonSet(values) as {
    spec: {
      template: {
        metadata: { annotations?: Record<string, string> };
        spec: { containers: { volumeMounts: Mount[] }[]; volumes: Volume[] };
      };
    };
  };
  return {
    mounts: ds.spec.template.spec.containers[0]?.volumeMounts ?? [],
    volumes: ds.spec.template.spec.volumes,
    annotations: ds.spec.template.metadata.annotations ?? {},
  };
}

/** The program against today's world, its agent objects rendered by the chart model from `values`. */
const run = (values: Values) =>
  runProgram({ config: loadStackConfig("prod"), live: Object.fromEntries(liveObjects(values)) });

describe("CrowdSec chart values exported for the CrowdSec stack", function () {
  this.timeout(120_000);
  let exported: string;
  let pasted: Values;
  let acquisition: string;

  before(async () => {
    const today = await run(OWNER_VALUES);
    exported = String(today.outputs.crowdsecAgentValues);
    pasted = mergeValues(OWNER_VALUES, parse(exported) as Values);
    const cm = find(today, "kubernetes:core/v1:ConfigMap", "crowdsec-mail-acquisition");
    acquisition = (cm.inputs.data as Record<string, string>)["acquis-mail.yaml"] ?? "";
  });

  it("once applied, the agent mounts the program's acquisition file by subPath in acquis.d", () => {
    const { mounts, volumes } = podSpec(pasted);
    const mount = mounts.find((m) => m.mountPath === "/etc/crowdsec/acquis.d/acquis-mail.yaml");
    assert.ok(mount, `no mount of the mail acquisition in ${JSON.stringify(mounts)}`);
    const volume = volumes.find((v) => v.name === mount.name);
    const item = volume?.configMap?.items?.find((i) => i.path === mount.subPath);
    assert.equal(volume?.configMap?.name, "crowdsec-mail-acquisition");
    assert.equal(item?.key, "acquis-mail.yaml");
    assert.ok(
      acquisition.includes("poll_without_inotify: true"),
      "the mounted key is the acquisition",
    );
  });

  it("keeps every mount the agent has today and mounts no directory over acquis.d", () => {
    const before = podSpec(OWNER_VALUES).mounts.map((m) => `${m.name} ${m.mountPath} ${m.subPath}`);
    const after = podSpec(pasted).mounts.map((m) => `${m.name} ${m.mountPath} ${m.subPath}`);
    for (const m of before) assert.ok(after.includes(m), `lost ${m}`);
    assert.ok(after.includes("syslog-acquisition /etc/crowdsec/acquis.d/syslog.yaml syslog.yaml"));
    for (const m of podSpec(pasted).mounts) {
      if (!m.subPath)
        assert.ok(!"/etc/crowdsec/acquis.d/".startsWith(`${m.mountPath}/`), m.mountPath);
    }
  });

  it("drops the chart's stale mail entries (program: postfix / dovecot) and keeps traefik", () => {
    const docs = parseAllDocuments(renderAcquisYaml(pasted)).map(
      (d) => d.toJS() as { filenames: string[]; labels: { program: string } },
    );
    assert.deepEqual(
      docs.map((d) => [d.filenames[0], d.labels.program]),
      [["/var/log/containers/traefik-*_traefik_*.log", "traefik"]],
    );
  });

  it("restarts the agent when the acquisition changes (subPath mounts never update)", () => {
    const digest = createHash("sha256").update(acquisition).digest("hex");
    assert.equal(podSpec(pasted).annotations["checksum/mail-acquisition"], digest);
  });

  it("is a fixed point: read from the agent once applied, the values are the same", async () => {
    const again = await run(pasted);
    assert.equal(again.outputs.crowdsecAgentValues, exported);
  });
});

describe("the pack on the CrowdSec seam, program run against the live agent", function () {
  this.timeout(180_000);
  const prodConfig = JSON.parse(
    readFileSync(path.join(PACK_DIR, "config.prod.json"), "utf8"),
  ) as PackConfig;
  const pack = usePack(prodConfig);

  async function mandatory(values: Values): Promise<Violation[]> {
    const r = await run(values);
    const vs = await analyze(pack(), itemsFromRun(r), r.stackUrn);
    // Only the CrowdSec seam: today's world blocks the plan for other reasons too (tests/world).
    return vs.filter((v) => v.level === "mandatory" && v.policy.startsWith("crowdsec-"));
  }

  it("today's agent fails the preview: the acquisition is not mounted, and says what to paste", async () => {
    const vs = await mandatory(OWNER_VALUES);
    assert.deepEqual(
      vs.map((v) => v.policy),
      ["crowdsec-agent-mounts-acquisition"],
    );
    assert.match(vs[0]?.message ?? "", /does not mount .* crowdsecAgentValues/);
  });

  it("mounting it but keeping the chart's mail entries fails on the double count", async () => {
    const today = await run(OWNER_VALUES);
    const mountOnly = (parse(String(today.outputs.crowdsecAgentValues)) as { agent: Values }).agent;
    delete mountOnly.acquisition;
    const vs = await mandatory(mergeValues(OWNER_VALUES, { agent: mountOnly }));
    assert.deepEqual(
      vs.map((v) => v.policy),
      ["crowdsec-single-acquisition"],
    );
    assert.match(vs[0]?.message ?? "", /program: postfix, program: dovecot/);
  });

  it("the agent with the exported values applied passes", async () => {
    const today = await run(OWNER_VALUES);
    const values = parse(String(today.outputs.crowdsecAgentValues)) as Values;
    assert.deepEqual(await mandatory(mergeValues(OWNER_VALUES, values)), []);
  });
});
