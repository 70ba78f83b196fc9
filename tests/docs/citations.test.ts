import { strict as assert } from "node:assert";
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { checkDoc, findCitations } from "../helpers/citations";
import { ROOT } from "../../tools/offline/mock-program";

function docsUnder(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? docsUnder(path.join(dir, e.name))
      : e.name.endsWith(".md")
        ? [path.join(dir, e.name)]
        : [],
  );
}

describe("doc citations", () => {
  const docs = ["README.md", ...docsUnder("docs")];

  for (const doc of docs) {
    it(`${doc}: every cited place still holds what the doc says`, () => {
      assert.deepEqual(checkDoc(doc, ROOT), []);
    });
  }

  it("the architecture doc cites the line that disables Fail2ban and the policy enforcing it", () => {
    const cited = findCitations(
      readFileSync(path.join(ROOT, "docs/architecture/mailserver.md"), "utf8"),
      "mailserver.md",
    );
    assert.ok(
      cited.some((c) => c.file === "components/mailserver.ts" && c.text === 'ENABLE_FAIL2BAN: "0"'),
    );
    assert.ok(cited.some((c) => c.file === "policy/policies/fail2ban-disabled.ts"));
  });

  describe("the checker", () => {
    const root = mkdtempSync(path.join(tmpdir(), "citations-"));
    mkdirSync(path.join(root, "lib"));
    writeFileSync(
      path.join(root, "lib/a.ts"),
      'export const X = "1";\nexport function build(): string {\n  return "yes";\n}\n',
    );
    const check = (markdown: string) => {
      writeFileSync(path.join(root, "doc.md"), markdown);
      return checkDoc("doc.md", root);
    };

    it("accepts citations that hold", () => {
      assert.deepEqual(
        check('`lib/a.ts:1` (`X = "1"`), `lib/a.ts#build` (`"yes"`), `lib/a.ts#X`, `lib/a.ts`'),
        [],
      );
    });

    it("fails a line that moved, naming where the text is now", () => {
      assert.deepEqual(check('see `lib/a.ts:2` (`X = "1"`)'), [
        'doc.md:1: `lib/a.ts:2`: expected `X = "1"` on that line, found `export function build(): string {` (it is now on line 1)',
      ]);
    });

    it("fails a renamed symbol, a changed declaration and a missing file", () => {
      assert.deepEqual(check("`lib/a.ts#make` `lib/a.ts#build` (`no`) `lib/b.ts`"), [
        "doc.md:1: `lib/a.ts#make`: lib/a.ts declares no make",
        "doc.md:1: `lib/a.ts#build`: the declaration of build no longer holds `no`",
        "doc.md:1: `lib/b.ts`: lib/b.ts does not exist",
      ]);
    });
  });
});
