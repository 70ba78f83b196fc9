/**
 * A mocked run (tools/offline/mock-program.ts) as the items the analyzer, the diagram and the export take
 * (tools/report/model.ts): secrets wrapped again at the paths the run recorded.
 */
import type { CapturedResource } from "./mock-monitor";
import type { ProgramRun } from "./mock-program";
import { isSecretEnvelope, ROOT_STACK, wrapAtPaths, wrapSecret, type Item } from "../report/model";

/** True when `text` contains any secret string of `outputs`-like data. */
function mentionsAny(value: unknown, secrets: string[]): boolean {
  const text = JSON.stringify(value) ?? "";
  return secrets.some((s) => s.length >= 6 && text.includes(JSON.stringify(s).slice(1, -1)));
}

/**
 * The mocked run as analyzer items: inputs with secrets re-wrapped; outputs are the inputs echoed
 * back (what the mocks answer) for custom resources, registered outputs for components, the stack exports for
 * the root stack (an export that carries any secret string is itself treated as secret).
 */
export function itemsFromRun(run: ProgramRun): Item[] {
  const secrets: string[] = [];
  const collect = (v: unknown, inSecret: boolean): void => {
    if (isSecretEnvelope(v)) return collect(v.value, true);
    if (typeof v === "string" && inSecret) secrets.push(v);
    else if (Array.isArray(v)) v.forEach((x) => collect(x, inSecret));
    else if (v && typeof v === "object") Object.values(v).forEach((x) => collect(x, inSecret));
  };
  const items = run.resources.map((r: CapturedResource): Item => {
    const inputs = wrapAtPaths(r.inputs, r.secretPaths) as Record<string, unknown>;
    collect(inputs, false);
    return {
      urn: r.urn,
      type: r.type,
      name: r.name,
      parent: r.parent,
      custom: r.custom,
      protect: r.protect,
      retainOnDelete: r.retainOnDelete,
      dependencies: r.dependencies,
      inputs,
      outputs: r.custom
        ? inputs
        : (wrapAtPaths(r.outputs ?? {}, r.outputSecretPaths ?? []) as Record<string, unknown>),
    };
  });
  const stack = items.find((i) => i.type === ROOT_STACK && !i.parent);
  if (stack) {
    stack.outputs = Object.fromEntries(
      Object.entries(run.outputs).map(([k, v]) => [k, mentionsAny(v, secrets) ? wrapSecret(v) : v]),
    );
  }
  return items;
}

/**
 * The objects the program read with `.get()`, as the state records them: external resources whose
 * outputs are the live object (outputs named in additionalSecretOutputs stay secret). They belong
 * in an export because the stack's own resources depend on them.
 */
export function readItems(run: ProgramRun): Item[] {
  return run.reads.map((r) => {
    const state = wrapAtPaths(r.inputs, r.secretPaths) as Record<string, unknown>;
    return {
      urn: r.urn,
      type: r.type,
      name: r.name,
      parent: r.parent,
      custom: true,
      protect: false,
      retainOnDelete: false,
      dependencies: r.dependencies,
      inputs: state,
      outputs: state,
      external: true,
    };
  });
}
