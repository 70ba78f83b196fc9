/** What a PromQL expression reads: its vector selectors. */

export interface Selector {
  name: string;
  /** The selector as the rule writes it, e.g. `name{job="x"}`. */
  text: string;
}

const KEYWORDS = new Set(["and", "or", "unless", "bool", "offset", "by", "without", "on"]);

/**
 * The vector selectors of a PromQL expression: metric names with their matchers. Skipped: strings,
 * range and subquery brackets, grouping clauses, keywords, and names followed by `(` (functions)
 * or by a `by`/`without` clause and `(` (aggregation operators, `sum by (x) (...)`).
 */
export function selectors(expr: string): Selector[] {
  const re =
    /"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|\[[^\]]*\]|\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)|(?<![\w.:])([a-zA-Z_:][\w:]*)\s*(\{[^}]*\})?(\s*(?:(?:by|without)\s*\([^)]*\)\s*)?\()?/g;
  const out = new Map<string, Selector>();
  for (const m of expr.matchAll(re)) {
    const [, name, matchers, call] = m;
    if (!name || call || KEYWORDS.has(name)) continue;
    const text = `${name}${(matchers ?? "").replace(/\s+/g, " ")}`;
    out.set(text, { name, text });
  }
  return [...out.values()];
}
