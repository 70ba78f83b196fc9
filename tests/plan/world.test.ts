/**
 * The main job against the recorded world: `npm run plan` previews against today's world by
 * default and names what stands between the program and the owner's cluster now (exit 1);
 * against today's world plus the runbook's edits (`--world ready`) it has no mandatory violation
 * (exit 0). Bad input is one line and exit 2, with no process left behind.
 */
import * as assert from "node:assert/strict";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { ROOT, runCli } from "./support";

describe("npm run plan against the recorded world", function () {
  this.timeout(180_000);

  it("today (the default): exit 1, and the report names 10.0.20.202 held by kms/windows-kms", async () => {
    const r = await runCli("plan", []);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /against world\/today/);
    assert.match(
      r.stdout,
      /asks MetalLB for 10\.0\.20\.202, but LoadBalancer Service kms\/windows-kms holds it/,
    );
  });

  it("ready (today plus the runbook's edits): exit 0, no mandatory violation", async () => {
    const r = await runCli("plan", ["--world", "ready"]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /against world\/ready/);
    assert.match(r.stdout, /\b0 mandatory and \d+ advisory violation\(s\)/);
  });

  it("an unknown world is one line on stderr and exit 2", async () => {
    const r = await runCli("plan", ["--world", "tomorrow"]);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, 'error: --world "tomorrow": expected one of today, ready\n');
  });

  it("a bad Pulumi.<stack>.yaml value: one error line naming the key, exit 2, no pack left running", async () => {
    const stack = `badvalue${process.pid}`;
    const file = path.join(ROOT, `Pulumi.${stack}.yaml`);
    const prod = readFileSync(path.join(ROOT, "Pulumi.prod.yaml"), "utf8");
    writeFileSync(file, prod.replace("loadBalancerIp: 10.0.20.202", "loadBalancerIp: 10.0.20.999"));
    try {
      const r = await runCli("plan", ["--stack", stack]);
      assert.equal(r.code, 2, r.stdout);
      const lines = r.stderr.trimEnd().split("\n");
      assert.equal(lines.length, 1, r.stderr);
      assert.match(
        lines[0] ?? "",
        /^error: Pulumi\.badvalue\d+\.yaml: mailserver:mailserver\.loadBalancerIp = "10\.0\.20\.999": expected an IPv4 address/,
      );
      assert.deepEqual(r.leftover, [], "processes of the plan's group outlived it");
    } finally {
      rmSync(file, { force: true });
    }
  });
});
