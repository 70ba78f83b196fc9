/**
 * The repository's shell scripts under shellcheck and its YAML under yamllint (Debian bookworm's,
 * installed by scripts/install-tools.sh), each with a negative control the same tool must flag.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { requireTool } from "../helpers/tools";
import { ROOT, WORKFLOWS } from "./support";

const SCRIPTS = [
  ...fs
    .readdirSync(path.join(ROOT, "scripts"))
    .filter((f) => f.endsWith(".sh"))
    .map((f) => path.join("scripts", f)),
  path.join(".ci", "run"),
];

/** YAML the repository keeps for Pulumi, the pack, GitHub Actions and yamllint itself. */
const YAML = [
  "Pulumi.yaml",
  ...fs.readdirSync(ROOT).filter((f) => /^Pulumi\..+\.yaml$/.test(f)),
  ...["deploy", "policy"].flatMap((dir) =>
    fs
      .readdirSync(path.join(ROOT, dir))
      .filter((f) => f.endsWith(".yaml"))
      .map((f) => path.join(dir, f)),
  ),
  ...fs.readdirSync(WORKFLOWS).map((f) => path.relative(ROOT, path.join(WORKFLOWS, f))),
  ".yamllint.yaml",
];

function lint(cmd: string, args: string[]): { status: number | null; out: string } {
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** Runs `use` on a copy of `file` changed by `change`, in a temporary directory. */
function withBrokenCopy<T>(
  file: string,
  change: (text: string) => string,
  use: (copy: string) => T,
): T {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lint-"));
  try {
    const copy = path.join(dir, path.basename(file));
    fs.writeFileSync(copy, change(fs.readFileSync(path.join(ROOT, file), "utf8")));
    return use(copy);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe("delivery: shell scripts under shellcheck", () => {
  it("every script passes shellcheck", function () {
    requireTool(this, "shellcheck");
    const r = lint("shellcheck", ["-x", ...SCRIPTS]);
    assert.equal(r.status, 0, r.out);
  });

  it("negative control: an unquoted expansion added to a script is flagged", function () {
    requireTool(this, "shellcheck");
    const r = withBrokenCopy(
      SCRIPTS[0],
      (t) => `${t}\necho $1\n`,
      (copy) => lint("shellcheck", [copy]),
    );
    assert.match(r.out, /SC2086/);
  });
});

describe("delivery: YAML under yamllint", () => {
  it("every YAML file passes yamllint (.yamllint.yaml)", function () {
    requireTool(this, "yamllint");
    const r = lint("yamllint", ["-f", "parsable", ...YAML]);
    assert.equal(r.status, 0, r.out);
  });

  it("negative control: a duplicated key is flagged", function () {
    requireTool(this, "yamllint");
    const duplicateFirstKey = (t: string) => `${t}\n${/^([\w.-]+):/m.exec(t)?.[1]}: again\n`;
    const r = withBrokenCopy(YAML[0], duplicateFirstKey, (copy) =>
      lint("yamllint", ["-c", path.join(ROOT, ".yamllint.yaml"), "-f", "parsable", copy]),
    );
    assert.match(r.out, /key-duplicates/);
  });
});
