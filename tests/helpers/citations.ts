/**
 * Code citations in the docs, checked against the code. A doc cites a place in one of three ways:
 *
 * - `` `path:LINE` (`text`) ``: line LINE of path holds text;
 * - `` `path#symbol` `` or `` `path#symbol` (`text`) ``: path declares symbol (and its declaration
 *   holds text);
 * - `` `path` ``: a repository path that must exist.
 *
 * A moved line or a renamed symbol fails the docs test instead of leaving the doc quietly wrong.
 */
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";

const TOP_DIRS = "components|lib|tools|policy|tests|docs|bench|deploy|scripts|\\.github|\\.ci";
const FILE = `(?:${TOP_DIRS})/[\\w./-]+|index\\.ts|Pulumi\\.[\\w.]+\\.yaml|Pulumi\\.yaml|package\\.json`;
const CITATION = new RegExp(`\`(${FILE})(?::(\\d+)|#(\\w+))?\`(?: \\(\`([^\`]+)\`\\))?`, "g");

export interface Citation {
  doc: string;
  line: number;
  file: string;
  target?: { line: number } | { symbol: string };
  text?: string;
}

export function findCitations(markdown: string, doc: string): Citation[] {
  return markdown.split("\n").flatMap((lineText, i) =>
    [...lineText.matchAll(CITATION)].map((m) => ({
      doc,
      line: i + 1,
      file: m[1],
      target: m[2] ? { line: Number(m[2]) } : m[3] ? { symbol: m[3] } : undefined,
      text: m[4],
    })),
  );
}

const DECLARATION = (symbol: string) =>
  new RegExp(
    `^(?:export )?(?:default )?(?:async )?(?:function\\*? |class |const |let |interface |type |enum )${symbol}\\b`,
  );

/** Lines from a declaration up to the next top-level declaration. */
function declarationOf(lines: string[], symbol: string): string | undefined {
  const start = lines.findIndex((l) => DECLARATION(symbol).test(l));
  if (start < 0) return undefined;
  const next = lines.findIndex(
    (l, i) => i > start && /^(export |function |class |const |interface |type )/.test(l),
  );
  return lines.slice(start, next < 0 ? undefined : next).join("\n");
}

/** What is wrong with one citation, or undefined when the code still holds what the doc says. */
export function checkCitation(c: Citation, root: string): string | undefined {
  const where = `${c.doc}:${c.line}: \`${c.file}${c.target ? ("line" in c.target ? `:${c.target.line}` : `#${c.target.symbol}`) : ""}\``;
  const file = path.join(root, c.file);
  if (!existsSync(file)) return `${where}: ${c.file} does not exist`;
  if (!c.target) return undefined;
  const lines = readFileSync(file, "utf8").split("\n");
  if ("line" in c.target) {
    const held = lines[c.target.line - 1];
    if (held === undefined) return `${where}: the file has only ${lines.length} lines`;
    if (c.text !== undefined && !held.includes(c.text)) {
      const found = lines.findIndex((l) => l.includes(c.text!));
      const hint = found >= 0 ? ` (it is now on line ${found + 1})` : " (no line holds it now)";
      return `${where}: expected \`${c.text}\` on that line, found \`${held.trim()}\`${hint}`;
    }
    return undefined;
  }
  const declaration = declarationOf(lines, c.target.symbol);
  if (declaration === undefined) return `${where}: ${c.file} declares no ${c.target.symbol}`;
  if (c.text !== undefined && !declaration.includes(c.text)) {
    return `${where}: the declaration of ${c.target.symbol} no longer holds \`${c.text}\``;
  }
  return undefined;
}

export function checkDoc(doc: string, root: string): string[] {
  const markdown = readFileSync(path.join(root, doc), "utf8");
  return findCitations(markdown, doc)
    .map((c) => checkCitation(c, root))
    .filter((p): p is string => p !== undefined);
}
