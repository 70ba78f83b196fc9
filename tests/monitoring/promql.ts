/** Just enough PromQL and Prometheus text format to name the metrics on each side of a seam. */

const KEYWORDS = new Set(["and", "or", "unless", "bool", "offset", "group_left", "group_right"]);

/**
 * Metric names an expression selects: identifiers that are not functions, keywords, label names
 * (in matchers or grouping clauses), durations or strings.
 */
export function promqlMetrics(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, " ")
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ");
  const names = [...bare.matchAll(/(?<![\w.:])([a-zA-Z_:][\w:]*)(\s*\()?/g)]
    .filter((m) => !m[2] && !KEYWORDS.has(m[1]))
    .map((m) => m[1]);
  return [...new Set(names)];
}

/** Metric names in a Prometheus text-format body (what a Pushgateway receives). */
export function exposedMetrics(body: string): string[] {
  const names = body
    .split("\n")
    .filter((line) => line.trim() !== "" && !line.startsWith("#"))
    .map((line) => /^([a-zA-Z_:][\w:]*)/.exec(line)?.[1] ?? line);
  return [...new Set(names)];
}
