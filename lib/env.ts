/** Container environment entries, built one way for every component. */
import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";

type EnvVar = k8s.types.input.core.v1.EnvVar;

/** Plain settings as env literals (never a secret: literals are readable in the pod spec). */
export function literalEnv(values: Record<string, pulumi.Input<string>>): EnvVar[] {
  return Object.entries(values).map(([name, value]) => ({ name, value }));
}

/** Variables read from one Secret by secretKeyRef: env name -> key in the Secret. */
export function secretEnv(
  secretName: pulumi.Input<string>,
  keys: Record<string, string>,
): EnvVar[] {
  return Object.entries(keys).map(([name, key]) => ({
    name,
    valueFrom: { secretKeyRef: { name: secretName, key } },
  }));
}
