/**
 * Go's `path/filepath.Match` (golang/go src/path/filepath/match.go), which both CrowdSec's file
 * datasource and Prometheus' `rule_files` expand with `filepath.Glob`, one path element at a
 * time: `*` is any run of characters but `/`, `?` one character but `/`, `[...]` a class of
 * ranges (`[^...]` negated), `\` quotes the next character. Unlike shell and Node globs, `*` also
 * matches a leading dot, `**` is no more than `*`, and there are no braces. A malformed pattern
 * is Go's ErrBadPattern; Go finds it only when matching reaches it, this finds it up front.
 */
import { memoize } from "./memo";

export type GoGlob = RegExp | "bad pattern";

/** A literal outside and inside a regexp class, as the `u` flag allows escapes. */
const quote = (ch: string) => ch.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
const quoteInClass = (ch: string) => ch.replace(/[\\\][^-]/g, "\\$&");

/** The class starting after `[` at `i`: its regexp and the index after `]`, or bad pattern. */
function readClass(p: string, i: number): { re: string; next: number } | undefined {
  let negated = false;
  if (p[i] === "^") {
    negated = true;
    i++;
  }
  let body = "";
  for (let first = true; ; first = false) {
    if (i >= p.length) return undefined;
    if (p[i] === "]" && !first) break;
    const lo = readChar(p, i);
    if (!lo) return undefined;
    i = lo.next;
    let hi = lo;
    if (p[i] === "-") {
      const h = readChar(p, i + 1);
      if (!h) return undefined;
      hi = h;
      i = h.next;
    }
    body += hi === lo ? quoteInClass(lo.ch) : `${quoteInClass(lo.ch)}-${quoteInClass(hi.ch)}`;
  }
  return { re: negated ? `[^${body}]` : `[${body}]`, next: i + 1 };
}

/** One class character at `i` (`\` quotes; `-` and `]` unquoted end a range), or bad pattern. */
function readChar(p: string, i: number): { ch: string; next: number } | undefined {
  const c = p[i];
  if (c === undefined || c === "-" || c === "]") return undefined;
  if (c === "\\") return p[i + 1] === undefined ? undefined : { ch: p[i + 1], next: i + 2 };
  return { ch: c, next: i + 1 };
}

function compile(pattern: string): GoGlob {
  let re = "";
  for (let i = 0; i < pattern.length;) {
    const c = pattern[i];
    if (c === "*") {
      re += "[^/]*";
      i++;
    } else if (c === "?") {
      re += "[^/]";
      i++;
    } else if (c === "[") {
      const cls = readClass(pattern, i + 1);
      if (!cls) return "bad pattern";
      re += cls.re;
      i = cls.next;
    } else if (c === "\\") {
      if (pattern[i + 1] === undefined) return "bad pattern";
      re += quote(pattern[i + 1]);
      i += 2;
    } else {
      re += quote(c);
      i++;
    }
  }
  return new RegExp(`^${re}$`, "u");
}

/** Compiled once per pattern: a stack repeats the same few globs for every path it asks about. */
export const goGlob: (pattern: string) => GoGlob = memoize(compile);

/** Does `name` match `pattern` as Go's filepath.Match says? A bad pattern matches nothing. */
export function goGlobMatches(pattern: string, name: string): boolean {
  const re = goGlob(pattern);
  return re !== "bad pattern" && re.test(name);
}
