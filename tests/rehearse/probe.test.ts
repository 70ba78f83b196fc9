/**
 * Rehearsal scenario 3 "Probe and Prometheus": the rendered probe script, run by python3 with the
 * CronJob's env, delivers through the Mailgun stand-in to the real pod, finds its mail over the
 * pod's IMAPS and pushes to a real Pushgateway; a real Prometheus with the chart's config and the
 * rendered rules scrapes it and the pod's Dovecot. The plan as it stands passes; a wrong IMAP_HOST
 * in the CronJob's env, or a dovecot.cf without its stats listener (the negative controls), fails it. No Prometheus, Pushgateway or python
 * process may be left behind, and no secret may reach the evidence or the files.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import type { ProgramRun } from "../../tools/offline/mock-program";
import { probe } from "../../tools/rehearse/probe";
import type { RehearsalProgram } from "../../tools/rehearse/program";
import type { ScenarioResult } from "../../tools/rehearse/scenario";
import { usePod, writtenText } from "./support";

const CRONJOB = "kubernetes:batch/v1:CronJob";
const SECRET = "kubernetes:core/v1:Secret";
const CONFIGMAP = "kubernetes:core/v1:ConfigMap";
/** Where the pod mounts the rendered dovecot.cf (the DMS config directory). */
const DOVECOT_CF = "/tmp/docker-mailserver/dovecot.cf";
/** Command lines of the scenario's children (pgrep -f patterns). */
const CHILDREN = ["prometheus --", "prometheus-pushgateway", "email_roundtrip.py"].map(
  (cmdline) => ({ cmdline }),
);

/** A copy of the run with one env value of the probe CronJob's container replaced. */
function withProbeEnv(run: ProgramRun, name: string, value: string): ProgramRun {
  const copy = structuredClone(run);
  const cron = copy.resources.find(
    (r) =>
      r.type === CRONJOB &&
      (r.inputs.metadata as { name?: string }).name === "email-roundtrip-monitor",
  );
  assert.ok(cron, "no planned CronJob email-roundtrip-monitor");
  const spec = cron.inputs.spec as {
    jobTemplate: {
      spec: { template: { spec: { containers: { env: { name: string; value?: string }[] }[] } } };
    };
  };
  const v = spec.jobTemplate.spec.template.spec.containers[0].env.find((e) => e.name === name);
  assert.ok(v?.value, `no literal ${name} in the CronJob's env`);
  v.value = value;
  return copy;
}

/** Every value of the probe's rendered Secret and every mailbox password. */
function secrets(program: RehearsalProgram): string[] {
  const s = program.run.resources.find(
    (r) =>
      r.type === SECRET &&
      (r.inputs.metadata as { name?: string }).name === "email-roundtrip-monitor",
  );
  const data = (s?.inputs.stringData ?? {}) as Record<string, string>;
  return [...Object.values(data), ...Object.values(program.passwords)];
}

describe("rehearsal 3 Probe and Prometheus: the rendered probe, a real Pushgateway and Prometheus", function () {
  this.timeout(240_000);
  let passed: ScenarioResult | undefined;
  const f = usePod({
    tools: [
      ["promtool", "prometheus", ["--version"]],
      ["prometheus-pushgateway", "prometheus-pushgateway", ["--version"]],
      ["python3", "python3", ["--version"]],
      ["unshare", "setpriv", ["--version"]],
    ],
    processes: CHILDREN,
    settleMs: 3000,
    out: "rehearse-probe-out-",
  });

  it("passes: the probe round-trips, every target is up, every series present, every rule healthy, a broken run moves the alerts' series", async () => {
    const start = Date.now();
    passed = await probe(f.running(), f.program.passwords)(f.ctx);
    const ms = Date.now() - start;
    const text = passed.evidence.join("\n");
    assert.equal(passed.verdict, "pass", text);
    assert.ok(ms < 40_000, `took ${ms} ms`);
    assert.match(
      text,
      /^pass: run 1 \(as rendered\): exit 0 .*status=sent.*Uptime Kuma stand-in: status=up/m,
    );
    assert.match(
      text,
      /^pass: targets .*kubernetes-pods http:\/\/203\.0\.113\.25:9900\/metrics up/m,
    );
    assert.match(text, /prometheus-pushgateway http:\/\/127\.0\.0\.1:\d+\/metrics up/);
    assert.match(text, /email_roundtrip_success\{job="email-roundtrip-monitor"\} 1 → 0/);
    assert.match(text, /EmailRoundtripFailing 0 → 1/);
    assert.match(text, /^not rehearsed: kube_deployment_status_replicas_available/m);
    assert.match(text, /^pass: rules .* 8 of 8 .*EmailRoundtripFailing ok pending/m);
    assert.match(text, /promtool\.test\.ts/);
    for (const file of ["probe/prometheus.yml", "probe/probe-output.txt"]) {
      assert.ok(passed.files.includes(file), file);
    }
    assert.ok(passed.files.some((file) => /^probe\/pushgateway-.*\.txt$/.test(file)));
    const yml = fs.readFileSync(path.join(f.ctx.out, "probe/prometheus.yml"), "utf8");
    assert.match(yml, /- \/etc\/mailserver-rules\/\*\.yml/);
    assert.doesNotMatch(yml, /kubernetes_sd_configs/);
    const pg = fs.readFileSync(path.join(f.ctx.out, "probe/pushgateway-after-run-2.txt"), "utf8");
    assert.match(pg, /^email_roundtrip_success\{instance="",job="email-roundtrip-monitor"\} 0$/m);
  });

  it("negative control: a wrong IMAP_HOST in the CronJob's env fails the scenario", async () => {
    const run = withProbeEnv(
      f.program.run,
      "IMAP_HOST",
      "mailserver-wrong.mailserver.svc.cluster.local",
    );
    const r = await probe(f.running(), f.program.passwords)({ ...f.ctx, run });
    const text = r.evidence.join("\n");
    assert.equal(r.verdict, "fail", text);
    assert.match(
      text,
      /^FAIL: run 1 \(as rendered\): exit 1 .*(gaierror|Name or service not known|not known)/m,
    );
  });

  it("negative control: dovecot.cf without its stats listener fails the scenario", async () => {
    const rendered = f.program.run.resources.find(
      (r) =>
        r.type === CONFIGMAP &&
        (r.inputs.metadata as { name?: string }).name === "mailserver-config",
    );
    const cf = String((rendered?.inputs.data as Record<string, string>)["dovecot.cf"]);
    const without = cf.replace(/\n\s*inet_listener http \{[^}]*\}/, "");
    assert.notEqual(without, cf, "no stats listener block to remove");
    await f.restart({ override: { [DOVECOT_CF]: without } });
    const r = await probe(f.running(), f.program.passwords)(f.ctx);
    const text = r.evidence.join("\n");
    assert.equal(r.verdict, "fail", text);
    assert.match(text, /kubernetes-pods http:\/\/203\.0\.113\.25:9900\/metrics (down|unknown)/);
  });

  it("writes no secret into the evidence or the files", () => {
    assert.ok(passed);
    const written = writtenText(f.ctx.out);
    const said = passed.evidence.join("\n");
    for (const s of secrets(f.program)) {
      assert.ok(!written.includes(s), "a secret was written to a file");
      assert.ok(!said.includes(s), "a secret is in the evidence");
    }
  });

  it("leaves no Prometheus, Pushgateway or python process behind, nor (stopped) the pod's", () =>
    f.assertNothingLeft());
});
