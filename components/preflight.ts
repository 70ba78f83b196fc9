/**
 * What the live cluster holds that the stack depends on, read before anything changes and published
 * for the policy pack: the Services with their MetalLB addresses and NodePorts, MetalLB's pools, and
 * the Secrets the stack mounts but does not create. The pack's preflight policies refuse the
 * preview, naming the holder and the fix, when the mail address or a NodePort is taken or a mounted
 * Secret is missing or does not cover the mail host names. The component creates nothing.
 */
import * as pulumi from "@pulumi/pulumi";
import {
  summarise,
  type ClusterInventory,
  type InventoryReader,
  type SecretRef,
} from "../lib/cluster-inventory";
import { COMPONENT_TYPE } from "../lib/component-types";

export interface ClusterPreflightArgs {
  /** Reads the inventory (lib/cluster-inventory.ts#kubeApiInventory, or a recorded world). */
  read: InventoryReader;
  /** Secrets the stack's workloads mount that another system keeps. */
  mountedSecrets: SecretRef[];
}

export class ClusterPreflight extends pulumi.ComponentResource {
  public static readonly TYPE = COMPONENT_TYPE.preflight;
  /** What was read; public data only (never a Secret's content). */
  public readonly inventory: pulumi.Output<ClusterInventory>;

  constructor(name: string, args: ClusterPreflightArgs, opts?: pulumi.ComponentResourceOptions) {
    super(ClusterPreflight.TYPE, name, {}, opts);
    this.inventory = pulumi.output(args.read(args.mountedSecrets).then(summarise));
    this.registerOutputs({ inventory: this.inventory });
  }
}
