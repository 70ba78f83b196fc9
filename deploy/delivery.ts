import * as ps from "@pulumi/pulumiservice";
import type { DeliveryConfig, PolicyPackSource } from "./config";

/**
 * Files whose change on the deploy branch must redeploy the mail stack: the program, its config, the
 * pack and every lockfile the deployment installs from. Anything else (docs, tests, deploy/) does
 * not touch the stack, so it does not queue a deployment.
 */
export function deployPaths(stack: string): string[] {
  return [
    "index.ts",
    "main.ts",
    "components/**",
    "lib/**",
    "Pulumi.yaml",
    `Pulumi.${stack}.yaml`,
    "package.json",
    "package-lock.json",
    "tsconfig.json",
    "tsconfig.build.json",
    "policy/**",
  ];
}

/**
 * Run in the repo root before `pulumi up`. Dependencies come only from the lockfiles (the default
 * install step is skipped because it may resolve outside them), then the program and the pack are
 * compiled: `pulumi up` runs bin/main.js. The pack is installed too so a
 * deployment runs from the same tree the PR preview checked; the copy Pulumi Cloud enforces is the
 * published version attached by the policy group.
 */
export const PRE_RUN_COMMANDS: readonly string[] = [
  // An executor image with an older Node fails here with a clear message instead of deep in npm.
  `node -e 'if (Number(process.versions.node.split(".")[0]) < 22) { console.error("Node " + process.version + " found; the program needs Node >= 22: set mailserver-deploy:executorImage"); process.exit(1); }'`,
  "npm ci --no-audit --no-fund",
  "npm ci --no-audit --no-fund --prefix policy",
  // The CLI runs the compiled program (package.json `main`); it refuses a build older than its sources.
  "npm run build",
];

export interface Delivery {
  settings: ps.DeploymentSettings;
  pack: ps.PolicyPack;
  group: ps.PolicyGroup;
}

/** Declares the Pulumi Cloud side of the mail stack: push-to-deploy and the enforced pack. */
export function createDelivery(cfg: DeliveryConfig, source: PolicyPackSource): Delivery {
  // Credentials are deliberately absent: the stack's config imports an ESC environment, which the
  // CLI opens for every operation (PR preview, deployment, local run) with the caller's identity.
  const settings = new ps.DeploymentSettings(`${cfg.project}-${cfg.stack}`, {
    organization: cfg.organization,
    project: cfg.project,
    stack: cfg.stack,
    ...(cfg.agentPoolId === undefined ? {} : { agentPoolId: cfg.agentPoolId }),
    executorContext: { executorImage: cfg.executorImage },
    // Pulumi.yaml is at the repository root, the default repoDir.
    sourceContext: { git: { branch: `refs/heads/${cfg.branch}` } },
    vcs: {
      provider: "github",
      repository: cfg.repository,
      deployCommits: true,
      previewPullRequests: true,
      paths: deployPaths(cfg.stack),
    },
    operationContext: {
      preRunCommands: [...PRE_RUN_COMMANDS],
      options: {
        skipInstallDependencies: true,
        // Merges that land while a deployment runs collapse into one run of the newest commit.
        skipIntermediateDeployments: true,
      },
    },
  });

  // Deployments reject --policy-pack, so enforcement on merge comes from the published pack.
  const pack = new ps.PolicyPack(cfg.policyPackName, {
    organization: cfg.organization,
    name: cfg.policyPackName,
    versionTag: source.versionTag,
    sourcePath: source.dir,
  });

  // Preventative: a mandatory violation blocks the update instead of only being reported.
  const group = new ps.PolicyGroup(cfg.policyGroupName, {
    organizationName: cfg.organization,
    name: cfg.policyGroupName,
    entityType: "stacks",
    mode: "preventative",
    stacks: [{ name: cfg.stack, routingProject: cfg.project }],
    policyPacks: [{ name: pack.name, versionTag: pack.versionTag, config: source.config }],
  });

  return { settings, pack, group };
}
