import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import type { Output } from "@pulumi/pulumi";
import type * as ConfigModule from "../../deploy/config";
import type * as DeliveryModule from "../../deploy/delivery";
import { ROOT, deployPulumi, deployRequire, deployStackConfig } from "./support";

const { parseDeliveryConfig, loadPolicyPackSource } = deployRequire(
  "./config",
) as typeof ConfigModule;

const PROD = parseDeliveryConfig(deployStackConfig("prod"));

interface Registered {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
}

/** A minimal pack directory shaped like policy/. */
function fixturePack(opts: { version?: string; config?: unknown; noPolicyYaml?: boolean } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pack-"));
  if (!opts.noPolicyYaml) {
    fs.writeFileSync(path.join(dir, "PulumiPolicy.yaml"), "runtime: nodejs\ndescription: t\n");
  }
  fs.writeFileSync(
    path.join(dir, "package.json"),
    JSON.stringify({ name: "p", version: opts.version ?? "1.4.2" }),
  );
  const config = opts.config ?? {
    all: "mandatory",
    "mail-dns-only": { enforcementLevel: "advisory" },
    "mail-ports": { ports: [25, 465, 587, 993] },
  };
  fs.writeFileSync(path.join(dir, "config.prod.json"), JSON.stringify(config));
  return dir;
}

/** Runs createDelivery (or the whole program) against mocks on deploy/'s SDK instance. */
async function underMocks(run: () => Array<Output<unknown>>): Promise<Registered[]> {
  const pulumi = deployPulumi();
  const registered: Registered[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        registered.push({ type: args.type, name: args.name, inputs: args.inputs as never });
        return { id: `${args.name}-id`, state: args.inputs as Record<string, unknown> };
      },
      call: (args) => args.inputs as Record<string, unknown>,
    },
    "mailserver-deploy",
    "prod",
    false,
  );
  // Outputs resolve only after the resources behind them are registered.
  await Promise.all(run().map((o) => new Promise<void>((resolve) => o.apply(() => resolve()))));
  return registered;
}

function only(registered: Registered[], type: string): Record<string, unknown> {
  const found = registered.filter((r) => r.type === type);
  assert.equal(found.length, 1, `expected exactly one ${type}, got ${found.length}`);
  return found[0].inputs;
}

/** Deployments path filters as used here: exact paths and `dir/**`. */
function covered(paths: string[], file: string): boolean {
  return paths.some((p) => (p.endsWith("/**") ? file.startsWith(p.slice(0, -2)) : p === file));
}

describe("delivery: deploy/ config", () => {
  it("accepts deploy/Pulumi.prod.yaml and targets the mail stack", () => {
    assert.equal(PROD.project, "mailserver");
    assert.equal(PROD.stack, "prod");
    assert.equal(PROD.branch, "main");
    assert.equal(PROD.policyPackName, "mailserver-invariants");
    assert.equal(PROD.policyConfigFile, "config.prod.json");
    assert.match(PROD.executorImage, /nodejs-22/);
  });

  it("rejects unknown keys, ref-style branches and bad names, reporting all at once", () => {
    const raw = {
      ...deployStackConfig("prod"),
      repositry: "x/y",
      branch: "refs/heads/main",
      repository: "just-a-name",
      policyConfigFile: "../config.prod.json",
    };
    assert.throws(
      () => parseDeliveryConfig(raw),
      (err: Error) =>
        /unknown key "repositry"/.test(err.message) &&
        /"branch" must be/.test(err.message) &&
        /"repository" must be/.test(err.message) &&
        /"policyConfigFile" must be/.test(err.message),
    );
  });

  it("requires every mandatory key", () => {
    const raw = { ...deployStackConfig("prod") };
    delete raw["organization"];
    assert.throws(() => parseDeliveryConfig(raw), /"organization" is required/);
  });

  it("keeps agentPoolId only when set", () => {
    assert.equal(PROD.agentPoolId, undefined);
    const withPool = parseDeliveryConfig({ ...deployStackConfig("prod"), agentPoolId: "pool-1" });
    assert.equal(withPool.agentPoolId, "pool-1");
  });
});

describe("delivery: policy pack source", () => {
  it("reads version and config from the pack directory, as an absolute path", () => {
    const dir = fixturePack();
    const src = loadPolicyPackSource(path.relative(process.cwd(), dir), "config.prod.json");
    assert.equal(src.dir, dir);
    assert.ok(path.isAbsolute(src.dir));
    assert.equal(src.versionTag, "1.4.2");
    assert.deepEqual(src.config["mail-dns-only"], { enforcementLevel: "advisory" });
  });

  it("refuses a directory without PulumiPolicy.yaml", () => {
    assert.throws(
      () => loadPolicyPackSource(fixturePack({ noPolicyYaml: true }), "config.prod.json"),
      /no PulumiPolicy\.yaml/,
    );
  });

  for (const version of ["1.0", "1.0.0+build.5", "v1.0.0"]) {
    it(`refuses package version ${version} (not a publishable version tag)`, () => {
      assert.throws(
        () => loadPolicyPackSource(fixturePack({ version }), "config.prod.json"),
        /semver "version"/,
      );
    });
  }

  it("refuses unknown enforcement levels and a missing config file", () => {
    assert.throws(
      () =>
        loadPolicyPackSource(
          fixturePack({ config: { all: "strict", x: { enforcementLevel: "warn" } } }),
          "config.prod.json",
        ),
      (err: Error) => /all: enforcement level "strict"/.test(err.message) && /x:/.test(err.message),
    );
    assert.throws(() => loadPolicyPackSource(fixturePack(), "config.dev.json"), /cannot read/);
  });
});

describe("delivery: Pulumi Cloud resources (mocks on deploy/'s SDK)", () => {
  let registered: Registered[];
  let packDir: string;
  let delivery: typeof DeliveryModule;

  before(async () => {
    packDir = fixturePack();
    registered = await underMocks(() => {
      delivery = deployRequire("./delivery") as typeof DeliveryModule;
      const src = loadPolicyPackSource(packDir, PROD.policyConfigFile);
      const d = delivery.createDelivery(PROD, src);
      return [d.settings.urn, d.pack.urn, d.group.urn];
    });
  });

  it("registers the settings, the pack and the group with deploy/'s SDK", () => {
    assert.deepEqual(registered.map((r) => r.type).sort(), [
      "pulumiservice:index:DeploymentSettings",
      "pulumiservice:index:PolicyGroup",
      "pulumiservice:index:PolicyPack",
    ]);
  });

  it("deploys pushes to main of the GitHub repo and previews pull requests", () => {
    const s = only(registered, "pulumiservice:index:DeploymentSettings");
    assert.equal(s["organization"], PROD.organization);
    assert.equal(s["project"], "mailserver");
    assert.equal(s["stack"], "prod");
    assert.deepEqual(s["sourceContext"], { git: { branch: "refs/heads/main" } });
    const vcs = s["vcs"] as Record<string, unknown>;
    assert.equal(vcs["provider"], "github");
    assert.equal(vcs["repository"], PROD.repository);
    assert.equal(vcs["deployCommits"], true);
    assert.equal(vcs["previewPullRequests"], true);
    assert.equal(s["github"], undefined, "the deprecated github block must not be used");
    assert.deepEqual(s["executorContext"], { executorImage: PROD.executorImage });
    assert.equal(s["agentPoolId"], undefined);
  });

  it("filters deployments to the program, its config, the pack and the lockfiles", () => {
    const vcs = only(registered, "pulumiservice:index:DeploymentSettings")["vcs"] as {
      paths: string[];
    };
    for (const file of [
      "index.ts",
      "components/mailserver.ts",
      "Pulumi.yaml",
      "Pulumi.prod.yaml",
      "package.json",
      "package-lock.json",
      "tsconfig.json",
      "tsconfig.build.json",
      "main.ts",
      "policy/index.ts",
      "policy/package-lock.json",
      "policy/config.prod.json",
    ]) {
      assert.ok(covered(vcs.paths, file), `${file} must trigger a deployment`);
    }
    for (const file of ["docs/operations.md", "tests/delivery/deploy.test.ts", "deploy/index.ts"]) {
      assert.ok(!covered(vcs.paths, file), `${file} must not trigger a deployment`);
    }
  });

  it("installs program and pack from lockfiles only, and carries no credentials", () => {
    const op = only(registered, "pulumiservice:index:DeploymentSettings")["operationContext"] as {
      preRunCommands: string[];
      options: Record<string, unknown>;
      environmentVariables?: unknown;
    };
    const npm = op.preRunCommands.filter((c) => c.startsWith("npm "));
    assert.deepEqual(npm, [
      "npm ci --no-audit --no-fund",
      "npm ci --no-audit --no-fund --prefix policy",
      "npm run build",
    ]);
    assert.equal(op.options["skipInstallDependencies"], true);
    assert.equal(op.environmentVariables, undefined, "credentials come from ESC, not settings");
  });

  it("pre-run Node check passes on Node 22 and stops an older Node with a clear message", () => {
    const check = delivery.PRE_RUN_COMMANDS[0];
    // The `node` the command finds is the one running these tests (Node 22).
    const PATH = `${path.dirname(process.execPath)}${path.delimiter}${process.env["PATH"] ?? ""}`;
    const ok = spawnSync("bash", ["-c", check], {
      encoding: "utf8",
      env: { ...process.env, PATH },
    });
    assert.equal(ok.status, 0, ok.stderr);
    // Pretend to be Node 20 without needing one installed.
    const fake = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "node20-")), "fake.cjs");
    fs.writeFileSync(
      fake,
      'Object.defineProperty(process, "versions", { value: { ...process.versions, node: "20.19.0" } });\n',
    );
    const old = spawnSync("bash", ["-c", check], {
      encoding: "utf8",
      env: { ...process.env, PATH, NODE_OPTIONS: `--require ${fake}` },
    });
    assert.equal(old.status, 1);
    assert.match(old.stderr, /needs Node >= 22/);
  });

  it("publishes the pack from its directory at its package version", () => {
    const p = only(registered, "pulumiservice:index:PolicyPack");
    assert.equal(p["organization"], PROD.organization);
    assert.equal(p["name"], "mailserver-invariants");
    assert.equal(p["versionTag"], "1.4.2");
    assert.equal(p["sourcePath"], packDir);
  });

  it("attaches that exact version to the prod stack in a preventative group", () => {
    const g = only(registered, "pulumiservice:index:PolicyGroup");
    assert.equal(g["organizationName"], PROD.organization);
    assert.equal(g["mode"], "preventative");
    assert.equal(g["entityType"], "stacks");
    assert.deepEqual(g["stacks"], [{ name: "prod", routingProject: "mailserver" }]);
    const packs = g["policyPacks"] as Array<Record<string, unknown>>;
    assert.equal(packs.length, 1);
    assert.equal(packs[0]["name"], "mailserver-invariants");
    assert.equal(packs[0]["versionTag"], "1.4.2");
    assert.deepEqual(
      packs[0]["config"],
      JSON.parse(fs.readFileSync(path.join(packDir, "config.prod.json"), "utf8")) as unknown,
    );
  });

  it("schedules nothing: the certificate is the cluster's, renewed by Woodpecker's renew-tls", () => {
    assert.deepEqual(
      registered.filter((r) => r.type === "pulumiservice:index:DeploymentSchedule"),
      [],
    );
  });

  it("routes deployments to a runner pool when one is configured", async () => {
    const withPool = { ...PROD, agentPoolId: "home-pool" };
    const again = await underMocks(() => {
      const d = delivery.createDelivery(
        withPool,
        loadPolicyPackSource(packDir, "config.prod.json"),
      );
      return [d.settings.urn];
    });
    const s = only(again, "pulumiservice:index:DeploymentSettings");
    assert.equal(s["agentPoolId"], "home-pool");
  });
});

describe("delivery: contract with the root program and policy/", () => {
  it("deploy config names the root Pulumi project", () => {
    const file = path.join(ROOT, "Pulumi.yaml");
    const doc = parse(fs.readFileSync(file, "utf8")) as { name?: string };
    assert.equal(doc.name, PROD.project);
  });

  it("the prod stack imports an ESC environment (the deployment's only credential source)", () => {
    const file = path.join(ROOT, `Pulumi.${PROD.stack}.yaml`);
    const doc = parse(fs.readFileSync(file, "utf8")) as { environment?: unknown };
    const envs = Array.isArray(doc.environment) ? (doc.environment as unknown[]) : [];
    assert.ok(
      envs.length > 0 && envs.every((e) => typeof e === "string" && /^[\w.-]+\/[\w.-]+$/.test(e)),
      `Pulumi.${PROD.stack}.yaml "environment" must list ESC environments as <project>/<env>`,
    );
  });

  /** policy/ as published: the pack and the prod config the preview passes must both exist. */
  function realPack(): string {
    const dir = path.join(ROOT, "policy");
    for (const file of ["PulumiPolicy.yaml", PROD.policyConfigFile]) {
      assert.ok(fs.existsSync(path.join(dir, file)), `policy/${file} is missing`);
    }
    return dir;
  }

  it("policy/ is publishable: version, config file, and the pack's own name", function () {
    const dir = realPack();
    const src = loadPolicyPackSource(dir, PROD.policyConfigFile);
    assert.match(src.versionTag, /^\d+\.\d+\.\d+/);
    const index = fs.readFileSync(path.join(dir, "index.ts"), "utf8");
    assert.match(
      index,
      new RegExp(`new PolicyPack\\(\\s*["'\`]${PROD.policyPackName}["'\`]`),
      `policy/index.ts must construct PolicyPack("${PROD.policyPackName}")`,
    );
  });

  it("the whole deploy program runs under mocks against the real policy/", async function () {
    const dir = realPack();
    const pulumi = deployPulumi();
    const registered = await underMocks(() => {
      pulumi.runtime.setAllConfig(
        Object.fromEntries(
          Object.entries(deployStackConfig("prod")).map(([k, v]) => [
            `mailserver-deploy:${k}`,
            String(v),
          ]),
        ),
      );
      const program = deployRequire("./index") as {
        policyPackVersion: Output<string>;
        policyGroupName: Output<string>;
      };
      return [program.policyPackVersion, program.policyGroupName];
    });
    const p = only(registered, "pulumiservice:index:PolicyPack");
    assert.equal(p["sourcePath"], dir);
    const g = only(registered, "pulumiservice:index:PolicyGroup");
    assert.equal(g["mode"], "preventative");
  });
});
