/**
 * A Prometheus rule file judged the way the server loads it (prometheus/prometheus v2.48.1, the
 * version the owner's chart runs: model/rulefmt/rulefmt.go `Parse`, `RuleGroups.Validate`,
 * `RuleNode.Validate`). Prometheus reads every file its `rule_files` globs match whatever the name,
 * and one file it refuses fails the whole rule reload (rules/manager.go `Manager.Update`: "error
 * loading rules, previous rule set restored"; at startup cmd/prometheus/main.go returns the error
 * and the server exits).
 *
 * Modelled, as rulefmt does: YAML that parses (yaml.v3 with KnownFields, so an unknown field is an
 * error), `groups` a list of groups with the fields name, interval, limit, rules; each group named,
 * names unique in the file; each rule with exactly one of `record` and `alert`, a non-empty
 * `expr`, and the fields record, alert, expr, for, keep_firing_for, labels, annotations only; a
 * recording rule without annotations, `for` or `keep_firing_for`, and named as a metric; label
 * and annotation names valid (prometheus/common v0.44.0 model `IsValidMetricName`,
 * `LabelName.IsValid`), no `__name__` label; durations as common's `model.ParseDuration` reads
 * them. Not modelled, so returned as texts for someone else to have checked: the PromQL of `expr`
 * (`parser.ParseExpr`) and the Go templates of an alerting rule's labels and annotations (a value
 * without `{{` is plain text, which always parses). What the pack cannot tell the way yaml.v3
 * would (explicit tags, several documents, aliases where rulefmt keeps the raw node, non-string
 * scalars where it wants a duration or an int) is `unmodelled`.
 */
import { type Document, isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument } from "yaml";

export interface ParsedText {
  /** Where the text is, e.g. `group "mail", rule 2 (alert X): expr`. */
  where: string;
  kind: "expr" | "template";
  text: string;
}

export interface RuleFileJudgement {
  /** What Prometheus refuses the file for; [] when rulefmt accepts its shape. */
  errors: string[];
  /** What the pack cannot decide the way Prometheus does. */
  unmodelled: string[];
  /** The PromQL and templates Prometheus parses, which the pack does not. */
  texts: ParsedText[];
}

const GROUP_FIELDS = ["name", "interval", "limit", "rules"];
const RULE_FIELDS = ["record", "alert", "expr", "for", "keep_firing_for", "labels", "annotations"];
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** A scalar's source text (what yaml.v3 keeps as the node's Value). */
const sourceOf = (node: { source?: string; value: unknown }): string =>
  node.source ?? (typeof node.value === "string" ? node.value : JSON.stringify(node.value));

const DURATION =
  /^(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?$/;

type Item = { key: unknown; value: unknown };

class Judge {
  readonly out: RuleFileJudgement = { errors: [], unmodelled: [], texts: [] };
  constructor(
    private readonly lines: LineCounter,
    private readonly doc: Document,
  ) {}

  /** An alias as yaml.v3 decodes it into a Go value: the anchored node. */
  resolve(node: unknown): unknown {
    return isAlias(node) ? node.resolve(this.doc) : node;
  }

  at(node: unknown): string {
    const range = (node as { range?: [number, number, number] } | null)?.range;
    if (!range) return "";
    const { line, col } = this.lines.linePos(range[0]);
    return `${line}:${col}: `;
  }
  error(node: unknown, what: string): void {
    this.out.errors.push(`${this.at(node)}${what}`);
  }
  unmodelled(node: unknown, what: string): void {
    this.out.unmodelled.push(`${this.at(node)}${what}`);
  }

  /** Is `node` an alias or an explicitly tagged scalar? Noted as unmodelled when it is. */
  aliasOrTag(node: unknown, where: string): boolean {
    if (!isAlias(node) && !(isScalar(node) && node.tag)) return false;
    this.unmodelled(
      node,
      `${where}: an alias or explicit tag, which the pack does not resolve as yaml.v3 does`,
    );
    return true;
  }

  /** A scalar's text as yaml.v3 hands it to a string field; undefined when it is not one. */
  text(raw: unknown, where: string): string | undefined {
    const node = this.resolve(raw);
    if (node === null || node === undefined) return "";
    if (this.aliasOrTag(node, where)) return undefined;
    if (!isScalar(node)) {
      this.error(
        node,
        `${where}: a ${isMap(node) ? "mapping" : "list"} where a string is expected`,
      );
      return undefined;
    }
    // yaml.v3 decodes a null scalar into a string field as "".
    return node.value === null ? "" : sourceOf(node);
  }

  /** A field rulefmt keeps as a raw yaml.Node and reads `.Value` of: "" for a mapping or list. */
  nodeValue(node: unknown, where: string): string | undefined {
    if (node === null || node === undefined) return "";
    if (this.aliasOrTag(node, where)) return undefined;
    if (!isScalar(node)) return "";
    if (node.value === null && node.source !== "") {
      this.unmodelled(node, `${where}: a null scalar (${JSON.stringify(node.source)})`);
      return undefined;
    }
    return sourceOf(node);
  }

  /** A model.Duration field: 0 when absent; undefined when it does not parse (reported). */
  duration(raw: unknown, where: string): number | undefined {
    const node = this.resolve(raw);
    if (node === null || node === undefined) return 0;
    if (!isScalar(node) || node.tag) {
      this.unmodelled(
        node,
        `${where}: not a duration string the pack reads as model.ParseDuration does`,
      );
      return undefined;
    }
    // yaml.v3 skips the unmarshaler of a null scalar: zero.
    if (node.value === null) return 0;
    const s = sourceOf(node);
    if (s === "0") return 0;
    const m = s === "" ? null : DURATION.exec(s);
    if (!m) {
      this.error(node, `${where}: not a valid duration string: ${JSON.stringify(s)}`);
      return undefined;
    }
    return m.slice(2).some((d, i) => i % 2 === 0 && d !== undefined && Number(d) > 0) ? 1 : 0;
  }

  /** The items of a mapping, each key checked against `fields`; undefined when it is none. */
  fields(
    raw: unknown,
    where: string,
    fields: string[] | undefined,
  ): Map<string, unknown> | undefined {
    const node = this.resolve(raw);
    if (
      node === null ||
      node === undefined ||
      (isScalar(node) && node.value === null && !node.tag)
    ) {
      return new Map();
    }
    if (!isMap(node)) {
      this.error(
        node,
        `${where}: ${isSeq(node) ? "a list" : "a scalar"} where a mapping is expected`,
      );
      return undefined;
    }
    if (node.tag) {
      this.unmodelled(node, `${where}: an explicit tag`);
      return undefined;
    }
    const out = new Map<string, unknown>();
    for (const { key, value } of node.items as Item[]) {
      const name = isScalar(key) && !key.tag ? sourceOf(key) : undefined;
      if (name === undefined || name === "<<") {
        this.unmodelled(key, `${where}: a key that is not a plain string (or a merge key)`);
        continue;
      }
      if (fields && !fields.includes(name)) {
        this.error(
          key,
          `${where}: unknown field ${JSON.stringify(name)} (rulefmt knows ${fields.join(", ")})`,
        );
        continue;
      }
      out.set(name, value);
    }
    return out;
  }

  list(raw: unknown, where: string): unknown[] | undefined {
    const node = this.resolve(raw);
    if (
      node === null ||
      node === undefined ||
      (isScalar(node) && node.value === null && !node.tag)
    ) {
      return [];
    }
    if (isSeq(node) && node.tag) {
      this.unmodelled(node, `${where}: an explicit tag`);
      return undefined;
    }
    if (!isSeq(node)) {
      this.error(node, `${where}: not a list`);
      return undefined;
    }
    return node.items;
  }

  /** A map[string]string of label or annotation names; undefined when it is none. */
  strings(node: unknown, where: string): Map<string, string> | undefined {
    const items = this.fields(node, where, undefined);
    if (!items) return undefined;
    const out = new Map<string, string>();
    for (const [k, v] of items) {
      const value = this.text(v, `${where} ${k}`);
      if (value !== undefined) out.set(k, value);
    }
    return out;
  }

  rule(node: unknown, group: string, n: number): void {
    const where = `group ${JSON.stringify(group)}, rule ${n}`;
    const f = this.fields(node, where, RULE_FIELDS);
    if (!f) return;
    const record = this.nodeValue(f.get("record"), `${where} record`);
    const alert = this.nodeValue(f.get("alert"), `${where} alert`);
    const expr = this.nodeValue(f.get("expr"), `${where} expr`);
    const forD = this.duration(f.get("for"), `${where} for`);
    const keep = this.duration(f.get("keep_firing_for"), `${where} keep_firing_for`);
    const labels = this.strings(f.get("labels"), `${where} labels`);
    const annotations = this.strings(f.get("annotations"), `${where} annotations`);
    const name = alert || record;
    const who = name ? `${where} (${alert ? "alert" : "record"} ${name})` : where;
    if (record && alert) this.error(node, `${who}: sets both record and alert`);
    if (record === "" && alert === "") this.error(node, `${who}: sets neither record nor alert`);
    if (expr === "") this.error(node, `${who}: has no expr`);
    else if (expr !== undefined)
      this.out.texts.push({ where: `${who} expr`, kind: "expr", text: expr });
    if (record) {
      if (annotations && annotations.size > 0)
        this.error(node, `${who}: a recording rule with annotations`);
      if (forD) this.error(node, `${who}: a recording rule with for`);
      if (keep) this.error(node, `${who}: a recording rule with keep_firing_for`);
      if (!METRIC_NAME.test(record))
        this.error(node, `${who}: ${JSON.stringify(record)} is not a metric name`);
    }
    for (const [k, v] of labels ?? []) {
      if (!LABEL_NAME.test(k) || k === "__name__")
        this.error(node, `${who}: invalid label name ${JSON.stringify(k)}`);
      if (alert && v.includes("{{"))
        this.out.texts.push({ where: `${who} label ${k}`, kind: "template", text: v });
    }
    for (const [k, v] of annotations ?? []) {
      if (!LABEL_NAME.test(k))
        this.error(node, `${who}: invalid annotation name ${JSON.stringify(k)}`);
      if (alert && v.includes("{{"))
        this.out.texts.push({ where: `${who} annotation ${k}`, kind: "template", text: v });
    }
  }

  file(contents: unknown): void {
    const top = this.fields(contents, "the file", ["groups"]);
    if (!top) return;
    const groups = this.list(top.get("groups"), "groups");
    const seen = new Set<string>();
    (groups ?? []).forEach((g, i) => {
      const where = `group ${i + 1}`;
      const f = this.fields(g, where, GROUP_FIELDS);
      if (!f) return;
      const name = this.text(f.get("name"), `${where} name`);
      if (name === "") this.error(g, `${where}: has no name`);
      else if (name !== undefined && seen.has(name)) {
        this.error(g, `${where}: group name ${JSON.stringify(name)} is repeated in the file`);
      }
      if (name !== undefined) seen.add(name);
      this.duration(f.get("interval"), `${where} interval`);
      const limit = f.get("limit");
      if (
        limit !== undefined &&
        !(isScalar(limit) && !limit.tag && /^[-+]?[0-9]+$/.test(limit.source ?? ""))
      ) {
        this.unmodelled(limit, `${where} limit: not a decimal int`);
      }
      (this.list(f.get("rules"), `${where} rules`) ?? []).forEach((r, j) =>
        this.rule(r, name || where, j + 1),
      );
    });
  }
}

/** How Prometheus' rulefmt takes `text` as a rule file (see the module comment). */
export function judgeRuleFile(text: string): RuleFileJudgement {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const judge = new Judge(lines, doc);
  const multi = doc.errors.find((e) => e.code === "MULTIPLE_DOCS");
  if (multi) {
    judge.unmodelled(null, "more than one YAML document (yaml.v3 reads the first only)");
    return judge.out;
  }
  if (doc.errors.length > 0) {
    for (const e of doc.errors) {
      const [line, col] = e.linePos?.[0] ? [e.linePos[0].line, e.linePos[0].col] : [0, 0];
      judge.out.errors.push(`${line}:${col}: YAML: ${e.message.split("\n")[0]}`);
    }
    return judge.out;
  }
  judge.file(doc.contents);
  return judge.out;
}
