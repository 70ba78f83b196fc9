/**
 * The report plan and audit print and write: the resource tree, the "Policies:" section the way
 * `pulumi preview` prints it, the summary line, and the JSON report. Built from redacted values.
 */
import * as path from "node:path";
import { mandatoryCount, sortViolations } from "../analyzer/analysis";
import { describe, short } from "./describe";
import { redact, type Analysis, type Item, type Violation } from "./model";

/** The "Policies:" section the way `pulumi preview` prints it (without colours). */
export function renderPolicies(analysis: Analysis, packLabel: string): string[] {
  const lines = ["Policies:"];
  const violations = sortViolations(analysis.violations);
  const mark =
    mandatoryCount(violations) > 0
      ? "❌"
      : violations.some((v) => v.level !== "disabled")
        ? "⚠️"
        : "✅";
  lines.push(`    ${mark} ${analysis.pack.name}@v${analysis.pack.version} (local: ${packLabel})`);
  for (const v of violations) {
    const clause = v.type ? `  (${v.type}: ${v.name})` : `  (${v.urn})`;
    lines.push(`        - [${v.level}]  ${v.policy}${clause}`);
    for (const line of v.message.replace(/\n$/, "").split("\n")) lines.push(`          ${line}`);
  }
  return lines;
}

/** The resource tree: parent → children, with the properties that matter for each. */
export function renderTree(items: Item[]): string[] {
  const children = new Map<string, Item[]>();
  const byUrn = new Map(items.map((i) => [i.urn, i]));
  const roots: Item[] = [];
  for (const item of items) {
    if (item.parent && byUrn.has(item.parent)) {
      const list = children.get(item.parent) ?? [];
      list.push(item);
      children.set(item.parent, list);
    } else {
      roots.push(item);
    }
  }
  const order = (list: Item[]) =>
    [...list].sort(
      (a, b) =>
        Number(a.custom) - Number(b.custom) ||
        a.type.localeCompare(b.type) ||
        a.name.localeCompare(b.name),
    );
  const typeWidth = Math.min(
    64,
    items.reduce((max, i) => Math.max(max, i.type.length + 3 * depthOf(i, byUrn)), 0),
  );
  const lines = [`    ${"Type".padEnd(typeWidth + 2)}Name`];
  const visit = (item: Item, prefix: string, last: boolean, top: boolean) => {
    const branch = top ? "" : last ? "└─ " : "├─ ";
    const head = `${prefix}${branch}${item.type}`;
    lines.push(`    ${head.padEnd(typeWidth + 2)}${item.name}`);
    const childPrefix = top ? "" : prefix + (last ? "   " : "│  ");
    const kids = order(children.get(item.urn) ?? []);
    const detailGuide = kids.length > 0 ? "│  " : "   ";
    for (const detail of describe(item)) {
      lines.push(`    ${childPrefix}${detailGuide}    ${detail}`);
    }
    kids.forEach((kid, i) => visit(kid, childPrefix, i === kids.length - 1, false));
  };
  order(roots).forEach((r) => visit(r, "", true, true));
  return lines;
}

function depthOf(item: Item, byUrn: Map<string, Item>): number {
  let depth = 0;
  let at = byUrn.get(item.parent);
  while (at && depth < 50) {
    depth++;
    at = byUrn.get(at.parent);
  }
  return depth;
}

export interface JsonReport {
  tool: "plan" | "audit";
  stack: string;
  project: string;
  source: string;
  policyPack: { name: string; version: string; path: string };
  policyPackConfig: string;
  resources: { urn: string; type: string; name: string; parent: string; inputs: unknown }[];
  violations: Violation[];
  summary: { resources: number; violations: number; mandatory: number; advisory: number };
}

export function jsonReport(
  tool: "plan" | "audit",
  meta: { stack: string; project: string; source: string; configFile: string },
  items: Item[],
  analysis: Analysis,
): JsonReport {
  const violations = sortViolations(analysis.violations);
  return {
    tool,
    stack: meta.stack,
    project: meta.project,
    source: meta.source,
    policyPack: {
      name: analysis.pack.name,
      version: analysis.pack.version,
      path: path.relative(process.cwd(), analysis.pack.dir) || ".",
    },
    policyPackConfig: meta.configFile,
    resources: items.map((i) => ({
      urn: i.urn,
      type: i.type,
      name: i.name,
      parent: i.parent,
      inputs: redact(i.inputs),
    })),
    violations,
    summary: {
      resources: items.length,
      violations: violations.length,
      mandatory: mandatoryCount(violations),
      advisory: violations.filter((v) => v.level === "advisory").length,
    },
  };
}

/** Prints the whole human report; returns the exit code (1 when any violation is mandatory). */
export function printReport(header: string[], items: Item[], analysis: Analysis): number {
  const out: string[] = [...header, ""];
  out.push(...renderTree(items));
  const components = items.filter((i) => !i.custom).length;
  out.push(
    "",
    `Resources: ${items.length} (${items.length - components} custom, ${components} components and stack)`,
  );
  const root = items.find((i) => i.type === "pulumi:pulumi:Stack" && !i.parent);
  const outputs = root ? (redact(root.outputs) as Record<string, unknown>) : {};
  if (Object.keys(outputs).length > 0) {
    out.push("", "Outputs:");
    for (const [k, v] of Object.entries(outputs)) out.push(`    ${k}: ${short(v, 96)}`);
  }
  out.push("");
  out.push(...renderPolicies(analysis, path.relative(process.cwd(), analysis.pack.dir) || "."));
  const mandatory = mandatoryCount(analysis.violations);
  const advisory = analysis.violations.filter((v) => v.level === "advisory").length;
  out.push(
    "",
    `${mandatory} mandatory and ${advisory} advisory violation(s) from ${analysis.pack.name}@v${analysis.pack.version}` +
      (mandatory > 0 ? ": FAIL" : ": PASS"),
  );
  process.stdout.write(`${out.join("\n")}\n`);
  return mandatory > 0 ? 1 : 0;
}
