/**
 * The mail container's exec probes, run for real: the exact command the program renders, with the
 * real `ss` and `grep`, inside a private network namespace (`unshare --net`) where a listener takes
 * the port or not. The namespace keeps the listener off the shared machine's ports.
 */
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import type { ProgramRun } from "../../tools/offline/mock-program";
import { find, prodRun } from "../helpers/program";
import { requireTool } from "../helpers/tools";

interface Container {
  name: string;
  readinessProbe: { exec: { command: string[] } };
  livenessProbe: { exec: { command: string[] } };
}

/** Exit status of `probe` in a fresh network namespace, with a TCP listener on `port` if given. */
function runProbe(probe: string[], port?: number): number {
  const listen =
    port === undefined ? "" : `s=socket.socket(); s.bind(("127.0.0.1", ${port})); s.listen(); `;
  const script = `import socket, subprocess, sys; ${listen}sys.exit(subprocess.run(${JSON.stringify(probe)}).returncode)`;
  const r = spawnSync("unshare", ["--net", "python3", "-c", script], {
    encoding: "utf8",
    timeout: 20_000,
  });
  assert.equal(r.error, undefined);
  return r.status ?? -1;
}

describe("mail container exec probes, run with the real ss in a private network namespace", () => {
  let mail: Container;
  before(async function () {
    requireTool(this, "unshare", "unshare", ["--net", "true"]);
    requireTool(this, "ss", "ss", ["--version"]);
    requireTool(this, "python3");
    const run: ProgramRun = await prodRun();
    const deployment = find(run, "kubernetes:apps/v1:Deployment", "mailserver");
    const containers = (
      deployment.inputs as { spec: { template: { spec: { containers: Container[] } } } }
    ).spec.template.spec.containers;
    mail = containers.find((c) => c.name === "docker-mailserver") as Container;
  });

  it("readiness passes while something listens on 25 and fails when nothing does", () => {
    assert.equal(runProbe(mail.readinessProbe.exec.command, 25), 0);
    assert.equal(runProbe(mail.readinessProbe.exec.command), 1);
  });

  it("liveness passes on 993 and is not fooled by a listener on 25", () => {
    assert.equal(runProbe(mail.livenessProbe.exec.command, 993), 0);
    assert.equal(runProbe(mail.livenessProbe.exec.command, 25), 1);
  });
});
