/**
 * The plan and audit CLIs end to end, as child processes: one plan with every output, an audit of
 * its export, an audit of a mutated export, and each bad input. The runs start in `before` (a few
 * at a time) and the tests read their results.
 */
import * as assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { REDACTED_NOTE, type StackExport } from "../../tools/report/export";
import { itemsFromRun } from "../../tools/offline/run-items";
import { SECRET_SIG, SIG_KEY } from "../../tools/report/model";
import { placeholderKeys } from "../../tools/offline/placeholder-keys";
import { vaultPlaceholders } from "../../tools/offline/placeholders";
import type { JsonReport } from "../../tools/report/render";
import { prodRun } from "../helpers/program";
import { limited, runCli, type CliResult } from "./support";

interface BadCase {
  name: string;
  tool: "plan" | "audit";
  args: (dir: string) => string[];
  message: RegExp;
}

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

const BAD: BadCase[] = [
  {
    name: "plan: unknown stack",
    tool: "plan",
    args: () => ["--stack", "nosuchstack"],
    message: /unknown stack "nosuchstack"/,
  },
  {
    name: "plan: unknown option",
    tool: "plan",
    args: () => ["--frobnicate"],
    message: /unknown option --frobnicate/,
  },
  {
    name: "plan: missing pack config",
    tool: "plan",
    args: (d) => ["--policy-pack-config", path.join(d, "absent.json")],
    message: /cannot read policy pack config .*absent\.json: no such file/,
  },
  {
    name: "audit: no --file",
    tool: "audit",
    args: () => [],
    message: /--file STATE\.json is required/,
  },
  {
    name: "audit: missing file",
    tool: "audit",
    args: (d) => ["--file", path.join(d, "absent.json")],
    message: /cannot read stack export .*absent\.json: no such file/,
  },
  {
    name: "audit: directory instead of a file",
    tool: "audit",
    args: (d) => ["--file", d],
    message: /cannot read stack export .*: is a directory/,
  },
  {
    name: "audit: not JSON",
    tool: "audit",
    args: (d) => ["--file", path.join(d, "not-json.json")],
    message: /not-json\.json is not JSON/,
  },
  {
    name: "audit: wrong version",
    tool: "audit",
    args: (d) => ["--file", path.join(d, "v2.json")],
    message: /unsupported stack export version 2 \(expected 3/,
  },
  {
    name: "audit: no deployment",
    tool: "audit",
    args: (d) => ["--file", path.join(d, "no-deployment.json")],
    message: /no "deployment" object/,
  },
  {
    name: "audit: no resources",
    tool: "audit",
    args: (d) => ["--file", path.join(d, "no-resources.json")],
    message: /no "deployment\.resources" array/,
  },
  {
    name: "audit: pack config not JSON",
    tool: "audit",
    args: (d) => [
      "--file",
      path.join(d, "tiny.json"),
      "--policy-pack-config",
      path.join(d, "not-json.json"),
    ],
    message: /policy pack config .*not-json\.json is not JSON/,
  },
  {
    name: "audit: pack config not an object",
    tool: "audit",
    args: (d) => [
      "--file",
      path.join(d, "tiny.json"),
      "--policy-pack-config",
      path.join(d, "array.json"),
    ],
    message: /policy pack config .*array\.json must be a JSON object/,
  },
  {
    name: "audit: pack config with a bad enforcement level",
    tool: "audit",
    args: (d) => [
      "--file",
      path.join(d, "tiny.json"),
      "--policy-pack-config",
      path.join(d, "bad-level.json"),
    ],
    message: /"fail2ban-disabled": "sometimes" is not an enforcement level/,
  },
  {
    name: "audit: pack config naming a policy the pack lacks",
    tool: "audit",
    args: (d) => [
      "--file",
      path.join(d, "tiny.json"),
      "--policy-pack-config",
      path.join(d, "unknown-policy.json"),
    ],
    message: /no policy named "no-such-policy" in pack mailserver-invariants/,
  },
  {
    name: "audit: pack config value the schema refuses",
    tool: "audit",
    args: (d) => [
      "--file",
      path.join(d, "tiny.json"),
      "--policy-pack-config",
      path.join(d, "schema.json"),
    ],
    message: /fail2ban-disabled: namespace must be string, got 42/,
  },
];

function writeFixtures(dir: string): void {
  const files: Record<string, string> = {
    "not-json.json": "{ this is not json",
    "v2.json": JSON.stringify({ version: 2, deployment: TINY_EXPORT.deployment }),
    "no-deployment.json": JSON.stringify({ version: 3 }),
    "no-resources.json": JSON.stringify({ version: 3, deployment: { manifest: {} } }),
    "tiny.json": JSON.stringify(TINY_EXPORT),
    "array.json": "[]",
    "bad-level.json": JSON.stringify({ "fail2ban-disabled": "sometimes" }),
    "unknown-policy.json": JSON.stringify({ "no-such-policy": "mandatory" }),
    "schema.json": JSON.stringify({ "fail2ban-disabled": { namespace: 42 } }),
  };
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
}

const placeholderToken = /[\w.:/@[\]-]*PLACEHOLDER[\w.:/@-]*/g;

/**
 * The secret stand-ins the run is answered with, taken from the placeholders themselves (not from
 * the redaction under test): every PLACEHOLDER string among the Vault values.
 */
async function secretPlaceholders(): Promise<string[]> {
  const opts = {
    domain: "example.org",
    relay: { host: "relay.invalid", port: 587 },
    probeMailbox: "probe@example.org",
  };
  const data = vaultPlaceholders(opts, await placeholderKeys());
  const values = [...Object.values(data.platform), ...Object.values(data.personal)];
  return [...new Set(values.flatMap((v) => v.match(placeholderToken) ?? []))];
}

describe("plan and audit CLIs", function () {
  this.timeout(600_000);
  const dir = mkdtempSync(path.join(tmpdir(), "plan-test-"));
  const out = (name: string) => path.join(dir, name);
  let plan: CliResult;
  let audit: CliResult;
  let mutated: CliResult;
  const bad = new Map<string, CliResult>();

  before(async () => {
    writeFixtures(dir);
    const planRun = runCli("plan", [
      "--world",
      "ready",
      "--stack",
      "prod",
      "--json",
      out("plan.json"),
      "--export",
      out("export.json"),
      "--manifests",
      out("manifests"),
      "--diagram",
      out("diagram.md"),
    ]).then(async (result) => {
      plan = result;
      if (!existsSync(out("export.json"))) return;
      const doc = JSON.parse(readFileSync(out("export.json"), "utf8")) as StackExport;
      for (const r of doc.deployment.resources) {
        const meta = r.inputs?.metadata as { name?: string } | undefined;
        for (const props of [r.inputs, r.outputs]) {
          if (!props) continue;
          if (r.type === "kubernetes:core/v1:ConfigMap" && meta?.name === "mailserver-env") {
            (props.data as Record<string, string>).ENABLE_FAIL2BAN = "1";
          }
          if (r.type === "kubernetes:core/v1:Service" && meta?.name === "mailserver") {
            (props.spec as Record<string, string>).externalTrafficPolicy = "Cluster";
          }
        }
      }
      writeFileSync(out("mutated.json"), JSON.stringify(doc));
      [audit, mutated] = await Promise.all([
        runCli("audit", ["--file", out("export.json"), "--json", out("audit.json")]),
        runCli("audit", ["--file", out("mutated.json"), "--json", out("mutated-report.json")]),
      ]);
    });
    const badRuns = limited(
      2,
      BAD.map((c, i) => async () => {
        bad.set(c.name, await runCli(c.tool, [...c.args(dir), "--json", out(`bad-${i}.json`)]));
      }),
    );
    await Promise.all([planRun, badRuns]);
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  const report = (name: string) => JSON.parse(readFileSync(out(name), "utf8")) as JsonReport;

  it("plan on prod exits 0 with no mandatory violation", () => {
    const mandatory = existsSync(out("plan.json"))
      ? report("plan.json").violations.filter((v) => v.level === "mandatory")
      : [];
    assert.deepEqual(
      mandatory.map((v) => `${v.policy} ${v.urn}`),
      [],
      "mandatory violations on prod",
    );
    assert.equal(plan.code, 0, plan.stderr);
    assert.match(plan.stdout, /^Policies:$/m);
    assert.match(plan.stdout, /mailserver-invariants@v[\d.]+ \(local: policy\)/);
    assert.equal(plan.stderr, "");
    assert.deepEqual(plan.leftover, [], "processes left behind by the plan");
  });

  it("plan prints the resource tree with the properties that matter", () => {
    assert.match(plan.stdout, /pulumi:pulumi:Stack\s+mailserver-prod/);
    assert.match(plan.stdout, /├─ mailserver:mail:MailServer\s+mailserver/);
    assert.match(
      plan.stdout,
      /container docker-mailserver: docker\.io\/mailserver\/docker-mailserver:15\.0\.0/,
    );
    assert.match(plan.stdout, /type LoadBalancer, externalTrafficPolicy Local/);
    assert.match(plan.stdout, /MX viktorbarzin\.me → mail\.viktorbarzin\.me/);
    assert.match(plan.stdout, /protect, retainOnDelete/);
    assert.match(plan.stdout, /type Opaque, (data|keys .*) \[secret\]/);
  });

  it("writes a JSON report: resources with redacted inputs, violations with policy and level", () => {
    const r = report("plan.json");
    assert.equal(r.tool, "plan");
    assert.equal(r.stack, "prod");
    assert.equal(r.policyPack.name, "mailserver-invariants");
    assert.ok(r.resources.length > 10);
    for (const res of r.resources) {
      assert.deepEqual(Object.keys(res).sort(), ["inputs", "name", "parent", "type", "urn"]);
      assert.match(res.urn, /^urn:pulumi:prod::mailserver::/);
    }
    const secret = r.resources.find(
      (x) => x.type === "kubernetes:core/v1:Secret" && x.name === "mailserver-accounts",
    );
    assert.ok(secret, "mailserver-accounts Secret in the report");
    assert.match(JSON.stringify(secret.inputs), /\[secret\]/);
    for (const v of r.violations) {
      assert.deepEqual(
        Object.keys(v).sort(),
        ["level", "message", "name", "policy", "policyPack", "policyPackVersion", "type", "urn"]
          .filter((k) => k in v)
          .sort(),
      );
      assert.ok(["advisory", "mandatory", "disabled"].includes(v.level));
    }
    assert.equal(r.summary.resources, r.resources.length);
    assert.equal(r.summary.violations, r.violations.length);
  });

  it("writes a version-3 stack export the CLI's integrity checks accept, secrets redacted", () => {
    const doc = JSON.parse(readFileSync(out("export.json"), "utf8")) as StackExport;
    assert.equal(doc.version, 3);
    const { manifest, resources } = doc.deployment;
    assert.equal(manifest.magic, createHash("sha256").update(manifest.version).digest("hex"));
    const seen = new Set<string>();
    const providers = new Set<string>();
    for (const r of resources) {
      assert.equal(typeof r.urn, "string");
      assert.equal(typeof r.type, "string");
      assert.equal(typeof r.custom, "boolean");
      if (!r.custom) assert.equal(r.id, undefined, `${r.urn}: component with an id`);
      for (const dep of [r.parent, ...(r.dependencies ?? [])].filter(Boolean)) {
        assert.ok(seen.has(dep!), `${r.urn} comes before ${dep}`);
      }
      if (r.provider) assert.ok(providers.has(r.provider), `${r.urn}: unknown provider`);
      if (r.type.startsWith("pulumi:providers:")) providers.add(`${r.urn}::${r.id}`);
      seen.add(r.urn);
    }
    const envelopes =
      JSON.stringify(doc).match(new RegExp(`"${SIG_KEY}":"${SECRET_SIG}"[^}]*}`, "g")) ?? [];
    const compact = JSON.stringify(doc);
    assert.ok(compact.includes(SIG_KEY), "secrets are kept as envelopes");
    for (const e of envelopes) {
      assert.equal(
        e,
        `"${SIG_KEY}":"${SECRET_SIG}","plaintext":${JSON.stringify(JSON.stringify(REDACTED_NOTE))}}`,
      );
    }
  });

  it("audit of the plan's export reports the plan's violations, and cannot verify the hidden DKIM key", () => {
    const key = (r: JsonReport) =>
      r.violations.map((v) => `${v.level} ${v.policy} ${v.urn}\n${v.message}`).sort();
    const planned = new Set(key(report("plan.json")));
    const audited = key(report("audit.json"));
    assert.deepEqual(
      [...planned].filter((v) => !audited.includes(v)),
      [],
      "plan violations the audit lost",
    );
    // The export holds the DKIM key's Secret as one redacted envelope, so the key file cannot be
    // judged: refused, never passed as absent or as present.
    const extra = audited.filter((v) => !planned.has(v));
    assert.equal(extra.length, 1, extra.join("\n"));
    assert.match(
      extra[0],
      /^mandatory dkim-signing-published \S+::mailserver-deployment\n[^\n]*\ncannot verify: .* Secret mailserver\/mailserver-dkim, whose stringData this snapshot hides/,
    );
    assert.equal(audit.code, 1, audit.stderr);
    assert.match(audit.stdout, /^Policies:$/m);
    assert.deepEqual(audit.leftover, [], "processes left behind by the audit");
  });

  it("audit of a mutated export exits 1 naming the broken policies", () => {
    assert.equal(mutated.code, 1, mutated.stderr);
    const r = report("mutated-report.json");
    const mandatory = r.violations.filter((v) => v.level === "mandatory").map((v) => v.policy);
    assert.ok(mandatory.includes("fail2ban-disabled"), mandatory.join(", "));
    assert.ok(mandatory.includes("mail-service-etp-local"), mandatory.join(", "));
    assert.match(
      mutated.stdout,
      /- \[mandatory\]\s+fail2ban-disabled\s+\(kubernetes:core\/v1:ConfigMap: mailserver-env\)/,
    );
    assert.match(mutated.stdout, /- \[mandatory\]\s+mail-service-etp-local/);
    assert.deepEqual(mutated.leftover, [], "processes left behind by the audit");
  });

  it("writes one Kubernetes manifest per object, Secrets redacted", () => {
    const files = readdirSync(out("manifests"));
    const planned = report("plan.json").resources.filter(
      (r) =>
        r.type.startsWith("kubernetes:") &&
        typeof (r.inputs as { kind?: unknown }).kind === "string",
    );
    assert.equal(files.length, planned.length);
    for (const f of files) {
      const obj = parse(readFileSync(path.join(out("manifests"), f), "utf8")) as Record<
        string,
        unknown
      >;
      assert.equal(typeof obj.apiVersion, "string", f);
      assert.equal(typeof obj.kind, "string", f);
      if (obj.kind === "Secret") {
        assert.equal(obj.data, undefined, f);
        for (const v of Object.values((obj.stringData ?? {}) as Record<string, unknown>)) {
          assert.equal(v, "[redacted]", f);
        }
      }
    }
  });

  it("never writes or prints a secret value", async () => {
    const secret = await secretPlaceholders();
    assert.ok(secret.length >= 5, `the placeholders hold secrets to look for: ${secret.length}`);
    const inputs = JSON.stringify(itemsFromRun(await prodRun()).map((i) => i.inputs));
    assert.ok(
      secret.some((t) => inputs.includes(t)),
      "the program is answered with these placeholders",
    );
    const texts: [string, string][] = [
      ["plan stdout", plan.stdout],
      ["audit stdout", audit.stdout],
      ["plan.json", readFileSync(out("plan.json"), "utf8")],
      ["audit.json", readFileSync(out("audit.json"), "utf8")],
      ["export.json", readFileSync(out("export.json"), "utf8")],
      ...readdirSync(out("manifests")).map((f): [string, string] => [
        f,
        readFileSync(path.join(out("manifests"), f), "utf8"),
      ]),
    ];
    for (const [name, text] of texts) {
      assert.ok(!text.includes("PRIVATE KEY"), `${name} holds a private key`);
      for (const token of secret) {
        assert.ok(!text.includes(token), `${name} shows the secret ${token.slice(0, 12)}…`);
      }
    }
  });

  for (const c of BAD) {
    it(`bad input, ${c.name}: exit 2, one line on stderr, nothing written`, () => {
      const result = bad.get(c.name)!;
      assert.equal(result.code, 2, result.stdout + result.stderr);
      const lines = result.stderr.trimEnd().split("\n");
      assert.equal(lines.length, 1, result.stderr);
      assert.match(lines[0], /^error: /);
      assert.match(lines[0], c.message);
      assert.equal(result.stdout, "");
      const i = BAD.indexOf(c);
      assert.ok(!existsSync(out(`bad-${i}.json`)), "wrote a report");
      assert.deepEqual(result.leftover, [], "processes left behind");
    });
  }
});
