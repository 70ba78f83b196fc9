import * as assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as prettier from "prettier";
import {
  GENERATED_PATH,
  renderDmsEnvModule,
  tableVersion,
  TSV_PATH,
} from "../../policy/tools/gen-dms-env";

describe("docker-mailserver env table", () => {
  it("the committed module still matches the reference TSV", async () => {
    const options = await prettier.resolveConfig(GENERATED_PATH);
    const expected = await prettier.format(
      renderDmsEnvModule(readFileSync(TSV_PATH, "utf8"), tableVersion(TSV_PATH)),
      {
        ...options,
        filepath: GENERATED_PATH,
      },
    );
    assert.equal(
      readFileSync(GENERATED_PATH, "utf8"),
      expected,
      "regenerate: npx ts-node policy/tools/gen-dms-env.ts && npx prettier --write policy/lib/dms-env.generated.ts",
    );
  });

  it("classifies the reference rows the pack relies on", () => {
    const tsv = [
      "name\tdefault\tnotes",
      "ENABLE_FAIL2BAN\t0\t**0** => disabled",
      "ONE_DIR\t(n/a)\tREMOVED in v14.0.0",
      "DMS_CONFIG_POLL\t(n/a)\tAdded in v15.1.0; NOT in v15.0.0",
      "SA_SPAM_SUBJECT\t(unset)\tDEPRECATED since v14",
      "<ANY>__FILE\t(n/a)\tNOT in v15.0.0",
      "DOVECOT_<KEY>/LDAP_<KEY>\t(n/a)\tGeneric",
      "OLETOOLS (any)\t(none)\tno variable",
    ].join("\n");
    const out = renderDmsEnvModule(tsv, "15.0.0");
    assert.match(out, /READ: readonly string\[\] = \[\s*"ENABLE_FAIL2BAN"\s*\]/);
    assert.match(out, /UNREAD: [^=]*= \{\s*"ONE_DIR": "REMOVED in v14\.0\.0",\s*"DMS_CONFIG_POLL"/);
    assert.match(out, /DEPRECATED: [^=]*= \{\s*"SA_SPAM_SUBJECT"/);
    assert.match(out, /UNREAD_SUFFIXES: [^=]*= \{\s*"__FILE"/);
    assert.match(out, /READ_PREFIXES: readonly string\[\] = \[\s*"DOVECOT_",\s*"LDAP_"\s*\]/);
    assert.match(out, /UNREAD_SUBSTRINGS: [^=]*= \{\s*"OLETOOLS"/);
    assert.match(out, /VERSION = "15\.0\.0"/);
  });

  it("takes the release from the table's file name", () => {
    assert.equal(tableVersion("/x/policy/data/dms-15.0.0-env.tsv"), "15.0.0");
    assert.throws(() => tableVersion("/x/dms-15.0-env.tsv"), /dms-<major.minor.patch>-env.tsv/);
  });
});
