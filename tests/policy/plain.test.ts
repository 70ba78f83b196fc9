/**
 * policy/lib/plain.ts#toPlain copies the SDK's proxied properties from the proxy's target. What it
 * must give is what reading through the SDK's own proxy (@pulumi/policy proxy.js, which every
 * policy receives) gives: the same data, and at each unknown the SDK's own error, whose message the
 * SDK's advisory shows.
 */
import * as assert from "node:assert/strict";
import { toPlain, Unknown } from "../../policy/lib/plain";

interface SdkProxy {
  unknownCheckingProxy(value: object): object;
  unknownStringValue: string;
  unknownArrayValue: string;
  unknownObjectValue: string;
  UnknownValueError: new (...args: unknown[]) => Error;
}
// The pack's own copy of the SDK, which builds the proxies the pack receives.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const sdk = require("../../policy/node_modules/@pulumi/policy/proxy") as SdkProxy;

describe("toPlain on the SDK's proxy (policy/lib/plain.ts)", () => {
  const props = {
    metadata: { name: "mailserver", labels: { app: "mailserver" } },
    spec: {
      loadBalancerIP: sdk.unknownStringValue,
      ports: [{ port: 25 }, sdk.unknownObjectValue],
      selector: sdk.unknownObjectValue,
      externalIPs: sdk.unknownArrayValue,
      enabled: false,
      replicas: 0,
      empty: null,
    },
  };

  it("copies known values as they are", () => {
    const plain = toPlain(sdk.unknownCheckingProxy(structuredClone(props))) as Record<
      string,
      Record<string, unknown>
    >;
    assert.deepEqual(plain.metadata, { name: "mailserver", labels: { app: "mailserver" } });
    assert.equal(plain.spec.enabled, false);
    assert.equal(plain.spec.replicas, 0);
    assert.equal(plain.spec.empty, null);
    assert.deepEqual((plain.spec.ports as unknown[])[0], { port: 25 });
  });

  it("turns each unknown into the SDK's own UnknownValueError, naming its path", () => {
    const plain = toPlain(sdk.unknownCheckingProxy(structuredClone(props))) as {
      spec: Record<string, unknown>;
    };
    const unknowns: [unknown, string][] = [
      [
        plain.spec.loadBalancerIP,
        "string value at .spec.loadBalancerIP can't be known during preview",
      ],
      [
        (plain.spec.ports as unknown[])[1],
        "Object value at .spec.ports.1 can't be known during preview",
      ],
      [plain.spec.selector, "Object value at .spec.selector can't be known during preview"],
      [plain.spec.externalIPs, "Array value at .spec.externalIPs can't be known during preview"],
    ];
    for (const [value, message] of unknowns) {
      assert.ok(value instanceof Unknown, message);
      assert.ok(value.error instanceof sdk.UnknownValueError);
      assert.equal(value.error.message, message);
    }
  });

  it("copies a plain object (a merged Patch) without a proxy as well", () => {
    assert.deepEqual(toPlain({ a: [1, "x", { b: true }] }), { a: [1, "x", { b: true }] });
  });
});
