/** The prod config as raw values, mutated one key at a time, and what parseConfig says of it. */
import { strict as assert } from "node:assert";
import { ConfigError, CONFIG_NAMESPACE, parseConfig, rawConfigFromPulumi } from "../../lib/config";
import { loadStackConfig } from "../../tools/offline/mock-program";

/** The prod config as the raw object parseConfig sees. */
export function prodRaw(): Record<string, unknown> {
  return rawConfigFromPulumi(loadStackConfig("prod"));
}

/** Sets a dotted key (numeric parts index arrays); `undefined` deletes it. Returns `raw`. */
export function set(
  raw: Record<string, unknown>,
  dotted: string,
  value: unknown,
): Record<string, unknown> {
  const keys = dotted.split(".");
  let node = raw;
  for (const key of keys.slice(0, -1)) node = node[key] as Record<string, unknown>;
  if (value === undefined) delete node[keys[keys.length - 1]];
  else node[keys[keys.length - 1]] = value;
  return raw;
}

/** The problem lines of a config parseConfig must refuse. */
export function problemsOf(raw: Record<string, unknown>): string[] {
  try {
    parseConfig(raw);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err.problems;
  }
  return assert.fail("expected the config to be refused");
}

/** Back to the flat `mailserver:key` map the engine hands the program. */
export function flatConfig(raw: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(raw).map(([k, v]) => [
      `${CONFIG_NAMESPACE}:${k}`,
      typeof v === "string" ? v : JSON.stringify(v),
    ]),
  );
}
