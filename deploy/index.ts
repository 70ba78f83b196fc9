import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { loadPolicyPackSource, parseDeliveryConfig } from "./config";
import { createDelivery } from "./delivery";

// All of this project's keys, so the validator can reject unknown (mistyped) ones.
const prefix = `${pulumi.getProject()}:`;
const raw = Object.fromEntries(
  Object.entries(pulumi.runtime.allConfig())
    .filter(([key]) => key.startsWith(prefix))
    .map(([key, value]) => [key.slice(prefix.length), value]),
);
const cfg = parseDeliveryConfig(raw);
const source = loadPolicyPackSource(path.resolve(__dirname, "..", "policy"), cfg.policyConfigFile);
const { pack, group } = createDelivery(cfg, source);

export const deployedStack = `${cfg.organization}/${cfg.project}/${cfg.stack}`;
export const policyPackVersion = pack.versionTag;
export const policyGroupName = group.name;
