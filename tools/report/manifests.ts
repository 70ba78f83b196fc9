/**
 * `plan --manifests DIR`: the Kubernetes objects of the plan as YAML, one file a resource, named
 * `NN-<kind>-<namespace>-<name>.yaml` in registration order. Secret values are never written:
 * a Secret's `data`/`stringData` keys are kept with the value "[redacted]" (moved to `stringData`
 * so the manifest stays valid for `kubectl apply --dry-run`), and any other secret input (e.g. a
 * checksum annotation derived from secrets) is "[secret]".
 */
import { stringify } from "yaml";
import { isObject, redact, type Item } from "./model";

export const REDACTED_VALUE = "[redacted]";

function slug(text: string): string {
  return (
    text
      .toLowerCase()
      .replace(/[^a-z0-9.-]+/g, "-")
      .replace(/^-+|-+$/g, "") || "unnamed"
  );
}

/** True for resources that are Kubernetes objects (not Pulumi-side helpers like Chart/ConfigFile). */
export function isKubernetesObject(item: Item): boolean {
  return (
    item.custom &&
    item.type.startsWith("kubernetes:") &&
    typeof item.inputs.apiVersion === "string" &&
    typeof item.inputs.kind === "string"
  );
}

function redactSecretObject(obj: Record<string, unknown>): Record<string, unknown> {
  const keys = [
    ...(isObject(obj.data) ? Object.keys(obj.data) : []),
    ...(isObject(obj.stringData) ? Object.keys(obj.stringData) : []),
  ];
  const { data: _data, stringData: _stringData, ...rest } = obj;
  const out: Record<string, unknown> = { ...rest };
  if (keys.length > 0) out.stringData = Object.fromEntries(keys.map((k) => [k, REDACTED_VALUE]));
  else if (_data !== undefined || _stringData !== undefined) {
    // The whole map was one secret: its keys are not known without the value.
    out.stringData = {};
  }
  return out;
}

export function renderManifests(items: Item[]): { name: string; text: string }[] {
  const objects = items.filter(isKubernetesObject);
  const width = String(objects.length).length;
  return objects.map((item, i) => {
    let obj = redact(item.inputs) as Record<string, unknown>;
    const kind = String(obj.kind);
    if (kind === "Secret") obj = redactSecretObject(obj);
    const meta = isObject(obj.metadata) ? obj.metadata : {};
    const name = typeof meta.name === "string" ? meta.name : item.name;
    const ns = typeof meta.namespace === "string" ? meta.namespace : "";
    const file = [String(i + 1).padStart(width, "0"), kind, ns, name].filter(Boolean).map(slug);
    const header = [
      `# ${item.urn}`,
      "# Rendered by tools/plan from the program under mocks; secret values are redacted.",
    ];
    if (typeof meta.name !== "string") {
      header.push(
        `# metadata.name is assigned by Pulumi at deploy time (auto-naming from "${item.name}").`,
      );
    }
    return { name: `${file.join("-")}.yaml`, text: `${header.join("\n")}\n${stringify(obj)}` };
  });
}
