/**
 * Every CLI on the shared plumbing (tools/cli/common.ts), as compiled child processes: a bad input is
 * exit 2, exactly one `error:` line naming the key, the value and what was expected (every
 * problem at once), nothing on stdout, nothing written, and no process left in the run's process
 * group. An interrupted plan ends its policy pack too.
 */
import * as assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { childrenOf, ROOT, runTool, startTool, type CliResult, type Tool } from "./support";

const STACK = `cli-inputs-${process.pid}`;
const STACK_FILE = path.join(ROOT, `Pulumi.${STACK}.yaml`);

const TINY_EXPORT = {
  version: 3,
  deployment: {
    manifest: { time: "2026-01-01T00:00:00Z", magic: "", version: "" },
    resources: [
      {
        urn: "urn:pulumi:prod::mailserver::pulumi:pulumi:Stack::mailserver-prod",
        custom: false,
        type: "pulumi:pulumi:Stack",
      },
    ],
  },
};

interface BadInput {
  name: string;
  tool: Tool;
  /** Arguments; `fixtures` holds the inputs, the run's cwd starts (and must stay) empty. */
  args: (fixtures: string) => string[];
  env?: NodeJS.ProcessEnv;
  /** Each must match the one error line. */
  message: RegExp[];
}

const CASES: BadInput[] = [
  {
    name: "plan: two bad values in Pulumi.<stack>.yaml, both named",
    tool: "tools/cli/plan.js",
    args: () => ["--stack", STACK, "--world", "ready", "--json", "plan.json"],
    message: [
      new RegExp(`^error: Pulumi\\.${STACK}\\.yaml: `),
      /mailserver:mailserver\.loadBalancerIp = "10\.0\.20\.999": expected an IPv4 address/,
      /mailserver:mailserver\.relay\.port = 70000: .*65535/,
    ],
  },
  {
    name: "audit: a pack config with two bad enforcement levels, both named",
    tool: "tools/cli/audit.js",
    args: (f) => [
      "--file",
      path.join(f, "tiny.json"),
      "--policy-pack-config",
      path.join(f, "bad-levels.json"),
      "--json",
      "audit.json",
    ],
    message: [
      /^error: policy pack config .*bad-levels\.json/,
      /"fail2ban-disabled": "sometimes" is not an enforcement level \([a-z|]+\)/,
      /"mail-service-etp-local"\.enforcementLevel "never" is not one of/,
    ],
  },
  {
    name: "audit: a pack config value the pack's schema refuses (the pack had started)",
    tool: "tools/cli/audit.js",
    args: (f) => [
      "--file",
      path.join(f, "tiny.json"),
      "--policy-pack-config",
      path.join(f, "schema.json"),
      "--json",
      "audit.json",
    ],
    message: [/fail2ban-disabled: namespace must be string, got 42/],
  },
  {
    name: "adopt: no --out",
    tool: "tools/cli/adopt.js",
    args: (f) => ["--records", path.join(f, "zone.json")],
    env: { CLOUDFLARE_API_TOKEN: undefined },
    message: [/^error: --out FILE is required \(see --help\)$/],
  },
  {
    name: "adopt: an unknown option",
    tool: "tools/cli/adopt.js",
    args: (f) => ["--record", path.join(f, "zone.json"), "--out", "adopt.json"],
    env: { CLOUDFLARE_API_TOKEN: undefined },
    message: [/^error: unknown option --record \(see --help\)$/],
  },
  {
    name: "adopt: a --records file that does not exist",
    tool: "tools/cli/adopt.js",
    args: (f) => ["--records", path.join(f, "absent.json"), "--out", "adopt.json"],
    env: { CLOUDFLARE_API_TOKEN: undefined },
    message: [/^error: cannot read --records file .*absent\.json: no such file$/],
  },
  {
    name: "pack:version: --pack naming a directory without the pack",
    tool: "tools/cli/pack-version.js",
    args: () => ["--pack", "/nonexistent"],
    message: [/^error: cannot read \/nonexistent\/[\w-]+\.json: /, /no such file/],
  },
  {
    name: "rehearse: no --out, refused before anything starts",
    tool: "tools/rehearse/run.js",
    args: () => [],
    message: [/^error: --out <dir> is required/],
  },
];

function writeFixtures(dir: string): void {
  const prod = readFileSync(path.join(ROOT, "Pulumi.prod.yaml"), "utf8");
  const broken = prod
    .replace(/^(\s+loadBalancerIp:) 10\.0\.20\.202$/m, "$1 10.0.20.999")
    .replace(/^(\s+host: smtp-relay\.brevo\.com\n\s+port:) 587$/m, "$1 70000");
  assert.ok(broken.includes("10.0.20.999") && broken.includes("port: 70000"), "stack edited");
  writeFileSync(STACK_FILE, broken);
  const files: Record<string, string> = {
    "tiny.json": JSON.stringify(TINY_EXPORT),
    "bad-levels.json": JSON.stringify({
      "fail2ban-disabled": "sometimes",
      "mail-service-etp-local": { enforcementLevel: "never" },
    }),
    "schema.json": JSON.stringify({ "fail2ban-disabled": { namespace: 42 } }),
    "zone.json": JSON.stringify({ success: true, result: [] }),
  };
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
}

describe("every CLI: bad input is one error line and exit 2, nothing written or left running", function () {
  this.timeout(300_000);
  const dir = mkdtempSync(path.join(tmpdir(), "cli-inputs-"));
  const fixtures = path.join(dir, "fixtures");

  before(() => {
    mkdirSync(fixtures);
    writeFixtures(fixtures);
  });

  after(() => {
    rmSync(STACK_FILE, { force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  CASES.forEach((c, i) => {
    it(c.name, async () => {
      const cwd = path.join(dir, `run-${i}`);
      mkdirSync(cwd);
      const result = await runTool(c.tool, c.args(fixtures), { cwd, env: c.env });
      const shown = `exit ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`;
      assert.equal(result.code, 2, shown);
      const lines = result.stderr.trimEnd().split("\n");
      assert.equal(lines.length, 1, shown);
      assert.match(lines[0], /^error: /);
      for (const m of c.message) assert.match(lines[0], m);
      assert.equal(result.stdout, "");
      assert.deepEqual(readdirSync(cwd), [], "wrote a file");
      assert.deepEqual(result.leftover, [], "processes left in the run's group");
    });
  });

  it("plan: SIGINT once the policy pack runs ends it and exits 130", async () => {
    const { child, result } = startTool("tools/cli/plan.js", [
      "--world",
      "ready",
      "--stack",
      "prod",
    ]);
    let exited: CliResult | undefined;
    void result.then((r) => (exited = r));
    const deadline = Date.now() + 20_000;
    let pack: number[] = [];
    while (!exited && Date.now() < deadline) {
      pack = childrenOf(child.pid!);
      if (pack.length > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(pack.length > 0, `no child process of the plan within 20 s (${exited?.stderr})`);
    child.kill("SIGINT");
    const r = await result;
    assert.equal(r.code, 130, `exit ${r.code} ${r.signal}\n${r.stderr}`);
    assert.deepEqual(r.leftover, [], "processes left in the plan's group (the policy pack)");
  });
});
