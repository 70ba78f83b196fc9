/**
 * prometheus-reads-monitoring judges each key of the rules ConfigMap that the recorded server's
 * rule_files globs load as Prometheus does (prometheus/prometheus model/rulefmt/rulefmt.go; one
 * refused file fails the whole reload, rules/manager.go Manager.Update), whatever the key's name,
 * and judges a Helm-labelled ConfigMap of the stack like any other. promtool is the oracle of
 * which rule files are broken: each broken variant must make `promtool check rules` fail, each
 * legitimate one must pass it. Also: a scraped pod without prometheus.io/port, by the owner's
 * kubernetes-pods relabelling (world/today/kubernetes.yaml).
 */
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import type { AnalyzerResource } from "../../tools/analyzer/client";
import { itemsFromRun } from "../../tools/offline/run-items";
import { prodRun } from "../helpers/program";
import { requireTool } from "../helpers/tools";
import { analyzeAll, mandatory, summary, usePack } from "./harness";
import {
  dmsContainer,
  goodStack,
  mailDeployment,
  OBSERVED_SERVER_ANNOTATION,
  observedServer,
  RULE_FILE,
  rulesConfigMap,
  withResource,
} from "./fixtures";

const POLICY = "prometheus-reads-monitoring";
const mine = <T extends { policyName: string }>(ds: T[]): T[] =>
  ds.filter((d) => d.policyName === POLICY);
const last = (m: string | undefined) => (m ?? "").split("\n").pop() ?? "";

/** The rules ConfigMap with `data` and a record whose rule_files are `ruleFiles`. */
function rules(data: Record<string, string>, ruleFiles?: string[]): AnalyzerResource {
  const cm = rulesConfigMap(observedServer(ruleFiles ? { ruleFiles } : {}));
  (cm.properties as { data: unknown }).data = data;
  return cm;
}

const lines = (...l: string[]) => [...l, ""].join("\n");
const GOOD_EXPR =
  'sum by (namespace) (increase(dovecot_auth_failures_total{namespace="mailserver"}[15m])) > 30';
const rule = (...fields: string[]) =>
  lines(
    "groups:",
    "  - name: mailserver-dovecot",
    "    rules:",
    ...fields.map((f) => `      ${f}`),
  );

/** Rule files Prometheus refuses, each with what the pack's refusal must say. */
const BROKEN: { name: string; text: string; says: RegExp }[] = [
  {
    name: "YAML that does not parse",
    text: lines("groups:", "  - name: mail", "    rules: [", "      - alert: X"),
    says: /is not a rule file Prometheus accepts \(\d+:\d+: YAML: /,
  },
  {
    name: "a field rulefmt does not know (severity on the rule)",
    text: rule("- alert: DovecotAuthFailureBurst", `  expr: ${GOOD_EXPR}`, "  severity: warning"),
    says: /unknown field "severity"/,
  },
  {
    name: "two groups of one name",
    text: lines(
      "groups:",
      "  - name: mail",
      "    rules:",
      `      - {alert: A, expr: '${GOOD_EXPR}'}`,
      "  - name: mail",
      "    rules:",
      `      - {alert: B, expr: '${GOOD_EXPR}'}`,
    ),
    says: /group name "mail" is repeated in the file/,
  },
  {
    name: "a group without a name",
    text: lines("groups:", "  - rules:", `      - {alert: A, expr: '${GOOD_EXPR}'}`),
    says: /group 1: has no name/,
  },
  {
    name: "a rule without expr",
    text: rule("- alert: DovecotAuthFailureBurst", "  for: 5m"),
    says: /alert DovecotAuthFailureBurst\): has no expr/,
  },
  {
    name: "a rule with both record and alert",
    text: rule("- alert: A", "  record: a:b", `  expr: ${GOOD_EXPR}`),
    says: /sets both record and alert/,
  },
  {
    name: "a rule with neither record nor alert",
    text: rule(`- expr: ${GOOD_EXPR}`),
    says: /sets neither record nor alert/,
  },
  {
    name: "a recording rule with for",
    text: rule("- record: mail:auth_failures:15m", `  expr: ${GOOD_EXPR}`, "  for: 5m"),
    says: /a recording rule with for/,
  },
  {
    name: "a recording rule that is no metric name",
    text: rule("- record: mail-auth-failures", `  expr: ${GOOD_EXPR}`),
    says: /"mail-auth-failures" is not a metric name/,
  },
  {
    name: "a label name with a dash",
    text: rule("- alert: A", `  expr: ${GOOD_EXPR}`, "  labels:", "    mail-team: ops"),
    says: /invalid label name "mail-team"/,
  },
  {
    name: "a duration with a space",
    text: rule("- alert: A", `  expr: ${GOOD_EXPR}`, "  for: 5 m"),
    says: /not a valid duration string: "5 m"/,
  },
  {
    name: "groups as a mapping",
    text: lines("groups:", "  name: mail", "  rules: []"),
    says: /groups: not a list/,
  },
  {
    name: "an expression that does not parse (not listed as checked)",
    text: rule("- alert: A", "  expr: sum(rate(dovecot_auth_failures_total[5m])"),
    says: /cannot verify: key \S+ .*expr "sum\(rate\(dovecot_auth_failures_total\[5m\]\)".*checkedExpressions/,
  },
];

/** Rule files Prometheus loads, judged clean. */
const VALID: { name: string; text: string }[] = [
  { name: "the fixture's rule file", text: RULE_FILE },
  { name: "no groups", text: "groups: []\n" },
  { name: "an empty file", text: "" },
  {
    name: "labels through an anchor and an alias, interval and keep_firing_for",
    text: lines(
      "groups:",
      "  - name: a",
      "    interval: 1m",
      "    rules:",
      "      - alert: A",
      `        expr: '${GOOD_EXPR}'`,
      "        keep_firing_for: 10m",
      "        labels: &l",
      "          severity: warning",
      "  - name: b",
      "    rules:",
      "      - record: mail:auth_failures:burst",
      `        expr: "${GOOD_EXPR.replace(/"/g, '\\"')}"`,
      "        labels: *l",
    ),
  },
];

describe("prometheus-reads-monitoring: rule files as Prometheus loads them", function () {
  this.timeout(120_000);
  const pack = usePack({ [POLICY]: { setup: "chart" } });
  let bin: string;
  let dir: string;

  before(function () {
    bin = requireTool(this, "promtool");
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "prom-rules-"));
  });
  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** promtool check rules on `text`: true when it accepts the file. */
  function promtoolAccepts(text: string): boolean {
    const file = path.join(dir, "rules.yml");
    fs.writeFileSync(file, text);
    try {
      execFileSync(bin, ["check", "rules", file], { stdio: "pipe", timeout: 30_000 });
      return true;
    } catch {
      return false;
    }
  }

  for (const b of BROKEN) {
    it(`refuses a loaded key holding ${b.name}, which promtool refuses`, async () => {
      assert.equal(promtoolAccepts(b.text), false, `promtool accepts ${b.name}`);
      const ds = mine(
        mandatory(
          await analyzeAll(pack(), withResource(rules({ "mailserver.rules.yml": b.text }))),
        ),
      );
      assert.equal(ds.length, 1, summary(ds));
      assert.match(
        last(ds[0]?.message),
        /key mailserver\.rules\.yml \(\/etc\/mailserver-rules\/mailserver\.rules\.yml matches \/etc\/mailserver-rules\/\*\.yml\)/,
      );
      assert.match(last(ds[0]?.message), b.says);
    });
  }

  for (const v of VALID) {
    it(`accepts ${v.name}, which promtool accepts`, async () => {
      assert.equal(promtoolAccepts(v.text), true, `promtool refuses ${v.name}`);
      const ds = mine(
        await analyzeAll(pack(), withResource(rules({ "mailserver.rules.yml": v.text }))),
      );
      assert.deepEqual(ds, [], summary(ds));
    });
  }

  it("judges a key without .yaml/.yml that the glob loads like a .yml one", async () => {
    const glob = [
      ...(observedServer().ruleFiles as string[]).slice(0, 4),
      "/etc/mailserver-rules/*.rules",
    ];
    const good = mine(
      await analyzeAll(pack(), withResource(rules({ "mailserver.rules": RULE_FILE }, glob))),
    );
    assert.deepEqual(good, [], summary(good));
    const broken = BROKEN[1]?.text ?? "";
    const ds = mine(
      mandatory(
        await analyzeAll(pack(), withResource(rules({ "mailserver.rules": broken }, glob))),
      ),
    );
    assert.equal(ds.length, 1, summary(ds));
    assert.match(
      last(ds[0]?.message),
      /key mailserver\.rules \(\/etc\/mailserver-rules\/mailserver\.rules matches \/etc\/mailserver-rules\/\*\.rules\).* unknown field "severity"/,
    );
  });

  /**
   * A ConfigMap volume as the kubelet's AtomicWriter lays it out (kubernetes
   * pkg/volume/util/atomic_writer.go): the key a symlink into `..data`, itself a symlink to a
   * `..<UTC time>.<random>` directory. promtool expands rule_files with Go's filepath.Glob and
   * reads each match as the server does; its verdict on the layout is the expected one.
   */
  function promtoolLoadsVolume(glob: string): boolean {
    const vol = fs.mkdtempSync(path.join(dir, "vol-"));
    const ts = "..2026_12_06_21_22_00.1234567890";
    fs.mkdirSync(path.join(vol, ts));
    fs.writeFileSync(path.join(vol, ts, "mailserver.rules.yml"), RULE_FILE);
    fs.symlinkSync(ts, path.join(vol, "..data"));
    fs.symlinkSync("..data/mailserver.rules.yml", path.join(vol, "mailserver.rules.yml"));
    const config = path.join(vol, "..", `${path.basename(vol)}.yml`);
    fs.writeFileSync(config, `rule_files:\n  - ${glob.replace("/etc/mailserver-rules", vol)}\n`);
    try {
      execFileSync(bin, ["check", "config", config], { stdio: "pipe", timeout: 30_000 });
      return true;
    } catch {
      return false;
    }
  }

  for (const [glob, loads] of [
    ["/etc/mailserver-rules/*", false],
    ["/etc/mailserver-rules/*.yml", true],
    ["/etc/mailserver-rules/[.m]*", false],
    ["/etc/mailserver-rules/?*", false],
    ["/etc/mailserver-rules/mail*", true],
  ] as const) {
    it(`judges rule_files ${glob} over the ConfigMap volume as promtool does (loads: ${loads})`, async () => {
      assert.equal(promtoolLoadsVolume(glob), loads, `promtool on ${glob}`);
      const ruleFiles = [...(observedServer().ruleFiles as string[]).slice(0, 4), glob];
      const ds = mine(
        mandatory(
          await analyzeAll(
            pack(),
            withResource(rules({ "mailserver.rules.yml": RULE_FILE }, ruleFiles)),
          ),
        ),
      );
      if (loads) assert.deepEqual(ds, [], summary(ds));
      else {
        assert.equal(ds.length, 1, summary(ds));
        assert.match(
          summary(ds),
          /also matches \/etc\/mailserver-rules\/\.\.data.*"is a directory"/,
        );
      }
    });
  }

  it("refuses a ConfigMap whose only loaded key is broken, although no key holds rules", async () => {
    const ds = mine(
      mandatory(
        await analyzeAll(
          pack(),
          withResource(rules({ "mailserver.rules.yml": BROKEN[0]?.text ?? "" })),
        ),
      ),
    );
    assert.equal(ds.length, 1, summary(ds));
    assert.match(
      last(ds[0]?.message),
      /^ConfigMap monitoring\/mailserver-prometheus-rules carries mailserver\.viktorbarzin\.me\/observed-prometheus-server/,
    );
  });

  it("leaves a key no rule_files glob loads unjudged", async () => {
    const ds = mine(
      await analyzeAll(
        pack(),
        withResource(
          rules({ "mailserver.rules.yml": RULE_FILE, "README.md": BROKEN[0]?.text ?? "" }),
        ),
      ),
    );
    assert.deepEqual(ds, [], summary(ds));
  });

  it("judges a Helm-labelled ConfigMap of the stack: the label proves no chart owns it", async () => {
    const helm = { "app.kubernetes.io/managed-by": "Helm" };
    const unrecorded = rulesConfigMap(null);
    (unrecorded.properties.metadata as Record<string, unknown>).labels = helm;
    const ds = mine(mandatory(await analyzeAll(pack(), withResource(unrecorded))));
    assert.equal(ds.length, 1, summary(ds));
    assert.match(
      last(ds[0]?.message),
      /carries no readable mailserver\.viktorbarzin\.me\/observed-prometheus-server record/,
    );
    const broken = rules({ "mailserver.rules.yml": BROKEN[4]?.text ?? "" });
    (broken.properties.metadata as Record<string, unknown>).labels = helm;
    const refused = mine(mandatory(await analyzeAll(pack(), withResource(broken))));
    assert.match(last(refused[0]?.message), /has no expr/, summary(refused));
    const good = rulesConfigMap();
    (good.properties.metadata as Record<string, unknown>).labels = helm;
    const clean = mine(await analyzeAll(pack(), withResource(good)));
    assert.deepEqual(clean, [], summary(clean));
  });

  it("lists every text of the program's rule file as checked, and promtool accepts each", async () => {
    const run = itemsFromRun(await prodRun());
    const cm = run.find(
      (i) =>
        (i.inputs.metadata as { name?: string } | undefined)?.name ===
        "mailserver-prometheus-rules",
    );
    const text = (cm?.inputs.data as Record<string, string>)["mailserver.rules.yml"] ?? "";
    type R = {
      expr: string;
      alert?: string;
      labels?: Record<string, string>;
      annotations?: Record<string, string>;
    };
    const doc = parse(text) as { groups: { rules: R[] }[] };
    const texts = doc.groups.flatMap((g) =>
      g.rules.flatMap((r) => [
        r.expr,
        ...Object.values({ ...r.labels, ...r.annotations }).filter((v) => v.includes("{{")),
      ]),
    );
    assert.equal(texts.length, 9);
    const info = await pack().getAnalyzerInfo();
    const listed = info.policies.find((p) => p.name === POLICY)?.configSchema?.properties
      .checkedExpressions?.default as string[];
    assert.deepEqual([...texts].sort(), [...listed].sort());
    // Each listed text in a rule file of its own: the expression as an expr, a template as an
    // annotation of an alert.
    for (const t of listed) {
      const file = t.includes("{{")
        ? {
            groups: [
              {
                name: "t",
                rules: [{ alert: "T", expr: "vector(1)", annotations: { description: t } }],
              },
            ],
          }
        : { groups: [{ name: "t", rules: [{ alert: "T", expr: t }] }] };
      assert.equal(promtoolAccepts(JSON.stringify(file)), true, t);
    }
    const ds = mine(
      await analyzeAll(pack(), withResource(rules({ "mailserver.rules.yml": text }))),
    );
    assert.deepEqual(ds, [], summary(ds));
  });
});

describe("prometheus-reads-monitoring: a scraped pod without prometheus.io/port", () => {
  const pack = usePack({ [POLICY]: { setup: "chart" } });

  const scraped = (annotations: Record<string, string>, containers = [dmsContainer()]) =>
    mailDeployment(containers, annotations);
  const scrape = { "prometheus.io/scrape": "true", "prometheus.io/path": "/metrics" };

  it("refuses one: the kubernetes-pods job scrapes every declared container port", async () => {
    const ds = mine(mandatory(await analyzeAll(pack(), withResource(scraped(scrape)))));
    assert.equal(ds.length, 1, summary(ds));
    assert.match(
      last(ds[0]?.message),
      /^Deployment mailserver asks Prometheus to scrape it \(prometheus\.io\/scrape\) without prometheus\.io\/port: .* scrapes every declared container port \(25, 465, 587, 993, 9900\)/,
    );
  });

  it("refuses a port annotation that is no number: the relabelling keeps the discovered ports", async () => {
    const ds = mine(
      mandatory(
        await analyzeAll(
          pack(),
          withResource(scraped({ ...scrape, "prometheus.io/port": "dovecot-metrics" })),
        ),
      ),
    );
    assert.match(
      last(ds[0]?.message),
      /with prometheus\.io\/port "dovecot-metrics", which is no port number/,
      summary(ds),
    );
  });

  it("refuses a container that declares no port: it is scraped on port 80", async () => {
    const ds = mine(
      mandatory(
        await analyzeAll(pack(), withResource(scraped(scrape, [dmsContainer({ ports: [] })]))),
      ),
    );
    assert.match(
      last(ds[0]?.message),
      /port 80 \(the http default\) for the containers that declare none \(docker-mailserver\)/,
      summary(ds),
    );
  });

  it("accepts a pod whose one declared port is the one target", async () => {
    const ds = mine(
      await analyzeAll(
        pack(),
        withResource(scraped(scrape, [dmsContainer({ ports: [{ containerPort: 9900 }] })])),
      ),
    );
    assert.deepEqual(ds, [], summary(ds));
  });

  it("still passes the good stack (its pod names the port)", async () => {
    const ds = mine(await analyzeAll(pack(), goodStack()));
    assert.deepEqual(ds, [], summary(ds));
    assert.ok(OBSERVED_SERVER_ANNOTATION);
  });
});
