/** The one rule set for policy pack config (tools/analyzer/config.ts), and what the pack's schemas use. */
import { strict as assert } from "node:assert";
import type { PackInfo, PolicyInfo } from "../../tools/analyzer/client";
import { PackConfigError, resolvePackConfig, schemaProblems } from "../../tools/analyzer/config";
import { isObject } from "../../tools/report/model";
import { PACK_DIR, usePack } from "../policy/harness";

const INFO: PackInfo = {
  name: "p",
  version: "1.0.0",
  policies: [
    {
      name: "a",
      description: "",
      enforcementLevel: "mandatory",
      kind: "resource",
      configSchema: {
        properties: {
          ns: { type: "string", default: "mail" },
          ports: { type: "array", items: { type: "integer" }, default: [25] },
          limits: { type: "object", additionalProperties: { type: "integer" } },
        },
        required: [],
      },
    },
    { name: "b", description: "", enforcementLevel: "advisory", kind: "stack" },
  ],
};

describe("pack config: one rule set", () => {
  it("gives every policy its level and its schema defaults under the given values", () => {
    const cfg = resolvePackConfig(INFO, { a: { ports: [25, 587] } });
    assert.deepEqual(cfg, {
      a: { enforcementLevel: "mandatory", properties: { ns: "mail", ports: [25, 587] } },
      b: { enforcementLevel: "advisory", properties: {} },
    });
  });

  it('expands "all" to every policy a level is not given for', () => {
    const cfg = resolvePackConfig(INFO, { all: "disabled", b: "mandatory" });
    assert.equal(cfg.a?.enforcementLevel, "disabled");
    assert.equal(cfg.b?.enforcementLevel, "mandatory");
    assert.equal(
      resolvePackConfig(INFO, { all: { enforcementLevel: "advisory" } }).a?.enforcementLevel,
      "advisory",
    );
  });

  it('refuses "all" with properties, unknown policies, bad levels and bad values, all at once', () => {
    assert.throws(
      () =>
        resolvePackConfig(
          INFO,
          {
            all: { enforcementLevel: "advisory", ns: "x" },
            nope: "mandatory",
            a: { ns: 42, ports: ["25"], limits: { x: "y" } },
            b: "sometimes" as never,
          },
          "cfg.json",
        ),
      (err: Error) =>
        err instanceof PackConfigError &&
        err.message.startsWith("policy pack config cfg.json: ") &&
        !err.message.includes("\n") &&
        [
          /"all" takes only an enforcement level/,
          /no policy named "nope" in pack p/,
          /"b": "sometimes" is not an enforcement level/,
          /a: ns must be string, got 42/,
          /a: ports\[0\] must be integer, got "25"/,
          /a: limits\.x must be integer, got "y"/,
        ].every((re) => re.test(err.message)),
    );
  });

  it("checks required properties", () => {
    const strict: PolicyInfo = {
      ...INFO.policies[1],
      configSchema: { properties: { domain: { type: "string" } }, required: ["domain"] },
    };
    assert.throws(
      () => resolvePackConfig({ ...INFO, policies: [strict] }, {}),
      /b: domain is required/,
    );
  });

  it("checks enum values", () => {
    assert.deepEqual(
      schemaProblems({ type: "string", enum: ["chart", "operator"] }, "x", "setup"),
      ['setup must be one of "chart", "operator", got "x"'],
    );
  });

  it("reports nothing for a value that fits", () => {
    assert.deepEqual(schemaProblems({ type: "number" }, 3, "x"), []);
    assert.deepEqual(schemaProblems({ type: "array", items: { type: "string" } }, ["a"], "x"), []);
  });
});

describe("pack config: the pack's own schemas", () => {
  const pack = usePack();
  // schemaProblems checks these keywords; a schema using any other would be checked only in part.
  const CHECKED = new Set([
    "type",
    "enum",
    "properties",
    "required",
    "additionalProperties",
    "items",
  ]);
  const NOTES = new Set(["default", "description", "title"]);

  it(`use only keywords tools/analyzer/config.ts checks (pack in ${PACK_DIR})`, async () => {
    const info = await pack().getAnalyzerInfo();
    const unchecked: string[] = [];
    const walk = (schema: unknown, at: string): void => {
      if (!isObject(schema)) return;
      for (const [key, value] of Object.entries(schema)) {
        if (!CHECKED.has(key) && !NOTES.has(key)) unchecked.push(`${at}: ${key}`);
        if (key === "properties" && isObject(value)) {
          for (const [name, sub] of Object.entries(value)) walk(sub, `${at}.${name}`);
        } else if (key === "items" || key === "additionalProperties") walk(value, `${at}.${key}`);
      }
    };
    for (const policy of info.policies) {
      for (const [name, sub] of Object.entries(policy.configSchema?.properties ?? {})) {
        walk(sub, `${policy.name}.${name}`);
      }
    }
    assert.deepEqual(unchecked, []);
  });
});
