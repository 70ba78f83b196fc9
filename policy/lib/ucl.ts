/**
 * The subset of UCL (libucl, the language of Rspamd's config) that the pack parses exactly; any
 * other text is refused, never guessed. No npm package parses libucl: the one named `ucl-parser`
 * is an INI-like language of its own (sections in brackets, `//` comments, expressions).
 *
 * Accepted (libucl README, rspamd 3.11.1 contrib/libucl/README.md):
 * - statements `key = value`, `key: value`, `key { ... }` and `key [ ... ]`, ended by `;`, `,`,
 *   a line end or the closing brace;
 * - keys of lower-case letters, digits, `_`, `-` and `.` (a domain name is a key): Rspamd's parser
 *   keeps keys as written and compares them case-sensitively, so this spelling is the one it reads;
 * - values: a double-quoted string without `\` (escapes) or `$` (libucl expands variables such as
 *   `$DBDIR`), the booleans `true`/`false`/`yes`/`no`/`on`/`off`, plain decimal numbers, objects
 *   in braces, and arrays of such values separated by commas;
 * - `#` comments to the end of the line.
 *
 * Refused: macros (`.include`, `.priority`), block comments (slash-star), heredocs, single-quoted strings,
 * unquoted strings, numbers with multipliers (`10k`, `5min`), named-key hierarchies
 * (`section "name" { }`), a braced top level, and a key written twice in one object (libucl then
 * builds an implicit array, whose reading depends on the consumer).
 */

export type UclValue = string | number | boolean | UclValue[] | UclObject;
export interface UclObject {
  [key: string]: UclValue;
}

export type UclResult = { ok: true; value: UclObject } | { ok: false; error: string };

class Refused extends Error {}

const KEY_RE = /^[a-z0-9_][a-z0-9_.-]*/;
const ATOM_RE = /^[A-Za-z0-9_.+-]+/;
const BOOLEANS = new Map([
  ["true", true],
  ["yes", true],
  ["on", true],
  ["false", false],
  ["no", false],
  ["off", false],
]);

class Parser {
  private pos = 0;
  constructor(private readonly text: string) {}

  parse(): UclObject {
    const top = this.members(undefined);
    this.skipBlank();
    if (this.pos < this.text.length) this.refuse(`unexpected "${this.text[this.pos]}"`);
    return top;
  }

  private refuse(why: string): never {
    const line = this.text.slice(0, this.pos).split("\n").length;
    throw new Refused(`line ${line}: ${why}`);
  }

  /** Spaces, tabs, line ends and `#` comments; refuses the comment form the subset leaves out. */
  private skipBlank(): void {
    for (;;) {
      const rest = this.text.slice(this.pos);
      const blank = /^[ \t\r\n]+/.exec(rest);
      if (blank) {
        this.pos += blank[0].length;
        continue;
      }
      if (rest.startsWith("#")) {
        const end = this.text.indexOf("\n", this.pos);
        this.pos = end < 0 ? this.text.length : end;
        continue;
      }
      if (rest.startsWith("/*")) this.refuse("block comments are outside the subset");
      return;
    }
  }

  /** Skips spaces, tabs and a comment on the same line; true when a line end follows. */
  private endOfLine(): boolean {
    const m = /^[ \t]*(#[^\n]*)?/.exec(this.text.slice(this.pos));
    this.pos += m?.[0].length ?? 0;
    return this.pos >= this.text.length || /^\r?\n/.test(this.text.slice(this.pos));
  }

  /** Statements up to `close` (or the end of the text at the top level). */
  private members(close: "}" | undefined): UclObject {
    const out: UclObject = {};
    for (;;) {
      this.skipBlank();
      const ch = this.text[this.pos];
      if (ch === undefined) {
        if (close) this.refuse(`missing "${close}"`);
        return out;
      }
      if (ch === close) {
        this.pos++;
        return out;
      }
      if (ch === ".") this.refuse("macros (.include, .priority, ...) are outside the subset");
      const key = KEY_RE.exec(this.text.slice(this.pos))?.[0];
      if (!key) this.refuse(`expected a lower-case key, found "${ch}"`);
      this.pos += key.length;
      if (Object.prototype.hasOwnProperty.call(out, key)) {
        this.refuse(`key ${key} appears twice (libucl makes an implicit array)`);
      }
      out[key] = this.statementValue(key);
      this.terminator(close);
    }
  }

  private statementValue(key: string): UclValue {
    this.skipInline();
    const ch = this.text[this.pos];
    if (ch === "{" || ch === "[") return this.value();
    if (ch !== "=" && ch !== ":") this.refuse(`expected "=", ":", "{" or "[" after ${key}`);
    this.pos++;
    this.skipInline();
    return this.value();
  }

  private skipInline(): void {
    const m = /^[ \t]*/.exec(this.text.slice(this.pos));
    this.pos += m?.[0].length ?? 0;
  }

  /** After a statement: `;`, `,`, a line end, or the object's closing brace. */
  private terminator(close: "}" | undefined): void {
    this.skipInline();
    const ch = this.text[this.pos];
    if (ch === ";" || ch === ",") {
      this.pos++;
      return;
    }
    if (ch === close || this.endOfLine()) return;
    this.refuse(`expected ";" or a line end, found "${this.text[this.pos]}"`);
  }

  private value(): UclValue {
    const rest = this.text.slice(this.pos);
    const ch = rest[0];
    if (ch === "{") {
      this.pos++;
      return this.members("}");
    }
    if (ch === "[") {
      this.pos++;
      return this.array();
    }
    if (ch === '"') return this.quoted();
    if (ch === "'") this.refuse("single-quoted strings are outside the subset");
    if (rest.startsWith("<<")) this.refuse("heredoc strings are outside the subset");
    const atom = ATOM_RE.exec(rest)?.[0];
    if (!atom) this.refuse(`expected a value, found "${ch ?? "end of text"}"`);
    this.pos += atom.length;
    const bool = BOOLEANS.get(atom);
    if (bool !== undefined) return bool;
    if (/^-?[0-9]+(\.[0-9]+)?$/.test(atom)) return Number(atom);
    this.refuse(`unquoted value ${atom} is outside the subset: quote strings`);
  }

  private quoted(): string {
    const end = this.text.indexOf('"', this.pos + 1);
    if (end < 0) this.refuse("unterminated string");
    const s = this.text.slice(this.pos + 1, end);
    if (s.includes("\\")) this.refuse("escapes in strings are outside the subset");
    if (s.includes("$")) this.refuse(`"${s}" holds "$", which libucl expands as a variable`);
    if (s.includes("\n")) this.refuse("a string spans lines");
    this.pos = end + 1;
    return s;
  }

  private array(): UclValue[] {
    const out: UclValue[] = [];
    for (;;) {
      this.skipBlank();
      if (this.text[this.pos] === "]") {
        this.pos++;
        return out;
      }
      out.push(this.value());
      this.skipBlank();
      const ch = this.text[this.pos];
      if (ch === ",") this.pos++;
      else if (ch !== "]") this.refuse(`expected "," or "]" in an array, found "${ch ?? "end"}"`);
    }
  }
}

/** The object a UCL text of the subset describes, or why the text is outside it. */
export function parseUcl(text: string): UclResult {
  try {
    return { ok: true, value: new Parser(text).parse() };
  } catch (err) {
    if (err instanceof Refused) return { ok: false, error: err.message };
    throw err;
  }
}

export function isUclObject(v: UclValue | undefined): v is UclObject {
  return typeof v === "object" && !Array.isArray(v);
}
