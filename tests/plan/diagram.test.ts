import * as assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { renderDiagramDoc } from "../../tools/report/diagram";
import { itemsFromRun } from "../../tools/offline/run-items";
import { prodRun } from "../helpers/program";
import { ROOT } from "./support";

describe("docs/architecture/diagram.md", () => {
  it("is what `npm run plan -- --diagram` generates for prod today", async () => {
    const expected = renderDiagramDoc(itemsFromRun(await prodRun()), "prod");
    const actual = readFileSync(path.join(ROOT, "docs", "architecture", "diagram.md"), "utf8");
    assert.equal(
      actual,
      expected,
      "stale: run `npm run plan -- --stack prod --diagram docs/architecture/diagram.md`",
    );
  });
});
