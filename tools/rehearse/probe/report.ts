/** Scenario 3's evidence and files, with the probe's secrets kept out of both. */
import * as fs from "node:fs";
import * as path from "node:path";
import type { ScenarioResult } from "../scenario";

/** One judged line of evidence. */
export interface Check {
  pass: boolean;
  line: string;
}

export function redact(text: string, secrets: string[]): string {
  return secrets.filter((s) => s.length >= 4).reduce((t, s) => t.split(s).join("<secret>"), text);
}

/** The last two lines of a process's output, on one line. */
export function firstLines(text: string): string {
  return text.trim().split("\n").slice(-2).join(" | ");
}

export class Report {
  readonly evidence: string[] = [];
  readonly files: string[] = [];
  /** The Secret's values (and the broken run's password), redacted from every saved file. */
  secrets: string[] = [];
  private ok = true;

  /** Files go to `<out>/<dir>/`, listed as `<dir>/<name>`. */
  constructor(
    private readonly out: string,
    private readonly dir: string,
  ) {
    fs.mkdirSync(path.join(out, dir), { recursive: true });
  }

  check(c: Check): void {
    this.ok &&= c.pass;
    this.evidence.push(`${c.pass ? "pass" : "FAIL"}: ${c.line}`);
  }

  /** A line without a verdict of its own; `pass` false still fails the scenario. */
  note(line: string, pass = true): void {
    this.ok &&= pass;
    this.evidence.push(line);
  }

  save(name: string, text: string): void {
    fs.writeFileSync(path.join(this.out, this.dir, name), redact(text, this.secrets));
    this.files.push(path.posix.join(this.dir, name));
  }

  result(name: string): ScenarioResult {
    const verdict = this.ok ? "pass" : "fail";
    return { name, verdict, evidence: this.evidence, files: this.files };
  }
}
