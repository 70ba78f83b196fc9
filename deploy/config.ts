import * as fs from "node:fs";
import * as path from "node:path";

/** Settings of the deploy program, from `mailserver-deploy:*` stack config. Names only: no secrets. */
export interface DeliveryConfig {
  /** Pulumi Cloud organization that owns the mail stack, the pack and the policy group. */
  organization: string;
  /** Project and stack of the mail program that Deployments runs (`Pulumi.yaml` at the repo root). */
  project: string;
  stack: string;
  /** GitHub repository `owner/name` the Pulumi GitHub App watches. */
  repository: string;
  /** Short branch name whose pushes deploy, e.g. `main`. */
  branch: string;
  /** Deployment executor image; the program needs Node >= 22. */
  executorImage: string;
  /** Customer-managed runner pool; needed when Vault or the Kubernetes API are not public. */
  agentPoolId?: string;
  /** Must equal the name the pack gives `new PolicyPack(...)` in policy/index.ts. */
  policyPackName: string;
  policyGroupName: string;
  /** File in policy/ with the stack's pack config, the same file the PR preview passes. */
  policyConfigFile: string;
}

const PULUMI_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;
const GITHUB_REPO = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})\/[A-Za-z0-9._-]{1,100}$/;
const BRANCH = /^(?!refs\/)(?!.*\.\.)[A-Za-z0-9._/-]{1,200}$/;
const IMAGE = /^[a-z0-9][a-z0-9._/-]*(?::[A-Za-z0-9._-]+)?(?:@sha256:[0-9a-f]{64})?$/;
const POOL_ID = /^[A-Za-z0-9-]{1,100}$/;
const JSON_FILE = /^[A-Za-z0-9._-]+\.json$/;

const REQUIRED = [
  "organization",
  "project",
  "stack",
  "repository",
  "branch",
  "executorImage",
  "policyPackName",
  "policyGroupName",
  "policyConfigFile",
] as const;
const OPTIONAL = ["agentPoolId"] as const;

const RULES: Record<(typeof REQUIRED)[number] | (typeof OPTIONAL)[number], [RegExp, string]> = {
  organization: [PULUMI_NAME, "a Pulumi organization name"],
  project: [PULUMI_NAME, "a Pulumi project name"],
  stack: [PULUMI_NAME, "a Pulumi stack name"],
  repository: [GITHUB_REPO, "a GitHub repository as owner/name"],
  branch: [BRANCH, "a short branch name such as main (no refs/heads/ prefix)"],
  executorImage: [IMAGE, "a container image reference such as pulumi/pulumi-nodejs-22"],
  agentPoolId: [POOL_ID, "a runner pool id"],
  policyPackName: [PULUMI_NAME, "a policy pack name"],
  policyGroupName: [PULUMI_NAME, "a policy group name"],
  policyConfigFile: [JSON_FILE, "a .json file name inside policy/ (no directories)"],
};

/**
 * Validates raw config (keys without the `mailserver-deploy:` prefix). Unknown keys are errors so a
 * typo cannot silently fall back to nothing; every problem is reported at once.
 */
export function parseDeliveryConfig(raw: Readonly<Record<string, unknown>>): DeliveryConfig {
  const errors: string[] = [];
  const known = new Set<string>([...REQUIRED, ...OPTIONAL]);
  for (const key of Object.keys(raw)) {
    if (!known.has(key)) errors.push(`unknown key "${key}"`);
  }
  const value = (key: keyof typeof RULES, required: boolean): string | undefined => {
    const v = raw[key];
    if (v === undefined || v === "") {
      if (required) errors.push(`"${key}" is required`);
      return undefined;
    }
    const [pattern, what] = RULES[key];
    if (typeof v !== "string" || !pattern.test(v)) {
      errors.push(`"${key}" must be ${what}, got ${JSON.stringify(v)}`);
      return undefined;
    }
    return v;
  };
  const out: Partial<Record<keyof typeof RULES, string>> = {};
  for (const key of REQUIRED) out[key] = value(key, true);
  for (const key of OPTIONAL) out[key] = value(key, false);
  if (errors.length > 0) {
    throw new Error(`invalid mailserver-deploy config:\n  - ${errors.join("\n  - ")}`);
  }
  // Every required key was checked above; this only narrows the type.
  const req = (key: (typeof REQUIRED)[number]): string => out[key] ?? "";
  const cfg: DeliveryConfig = {
    organization: req("organization"),
    project: req("project"),
    stack: req("stack"),
    repository: req("repository"),
    branch: req("branch"),
    executorImage: req("executorImage"),
    policyPackName: req("policyPackName"),
    policyGroupName: req("policyGroupName"),
    policyConfigFile: req("policyConfigFile"),
  };
  if (out.agentPoolId !== undefined) cfg.agentPoolId = out.agentPoolId;
  return cfg;
}

/** What the deploy program publishes from policy/. */
export interface PolicyPackSource {
  /** Absolute path: the provider resolves relative paths against its own working directory. */
  dir: string;
  /** policy/package.json `version`; published versions are immutable, so every change bumps it. */
  versionTag: string;
  /** The stack's pack config, passed to the policy group unchanged. */
  config: Record<string, unknown>;
}

// Semver without build metadata: Pulumi Cloud's version tags allow only [A-Za-z0-9-_.].
const VERSION = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/;
const LEVELS = new Set(["advisory", "mandatory", "remediate", "disabled"]);

function readJson(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new Error(`cannot read ${file}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new Error(`${file} is not valid JSON: ${(err as Error).message}`);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Reads the pack's version and config and checks what publishing needs: the provider `npm pack`s
 * the directory and Pulumi Cloud reads `PulumiPolicy.yaml` from the tarball.
 */
export function loadPolicyPackSource(dir: string, configFile: string): PolicyPackSource {
  const abs = path.resolve(dir);
  if (!fs.existsSync(path.join(abs, "PulumiPolicy.yaml"))) {
    throw new Error(`${abs} has no PulumiPolicy.yaml: not a policy pack`);
  }
  const pkg = readJson(path.join(abs, "package.json"));
  const version = isObject(pkg) ? pkg["version"] : undefined;
  if (typeof version !== "string" || !VERSION.test(version)) {
    throw new Error(
      `${path.join(abs, "package.json")} needs a semver "version" without build metadata, got ${JSON.stringify(version)}`,
    );
  }
  const config = readJson(path.join(abs, configFile));
  if (!isObject(config)) throw new Error(`${configFile} must be a JSON object`);
  const bad: string[] = [];
  for (const [policy, setting] of Object.entries(config)) {
    const level = isObject(setting) ? setting["enforcementLevel"] : setting;
    // An object without enforcementLevel keeps the policy's own level and only sets properties.
    if (isObject(setting) && level === undefined) continue;
    if (typeof level !== "string" || !LEVELS.has(level)) {
      bad.push(`${policy}: enforcement level ${JSON.stringify(level)}`);
    }
  }
  if (bad.length > 0) {
    throw new Error(`${configFile} has invalid entries:\n  - ${bad.join("\n  - ")}`);
  }
  return { dir: abs, versionTag: version, config };
}
