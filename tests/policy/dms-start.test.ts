/**
 * dms-start-known knows what the program runs in the mail container: the SHA-256 of the rendered
 * user-patches.sh (sha256 of its UTF-8 bytes, node:crypto) and the argv of every exec probe are
 * listed in the policy's defaults, so a change to either fails here, naming what to review.
 */
import * as assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { itemsFromRun } from "../../tools/offline/run-items";
import { prodRun } from "../helpers/program";
import { usePack } from "./harness";

const POLICY = "dms-start-known";

describe("dms-start-known: the program's own start is the one the pack knows", () => {
  const pack = usePack();

  it("lists the rendered user-patches.sh and the mail container's exec probes", async () => {
    const items = itemsFromRun(await prodRun());
    const named = (kind: string, name: string) =>
      items.find(
        (i) =>
          i.type.endsWith(`:${kind}`) &&
          (i.inputs.metadata as { name?: string } | undefined)?.name === name,
      );
    const config = named("ConfigMap", "mailserver-config")?.inputs.data as Record<string, string>;
    const script = config["user-patches.sh"] ?? "";
    assert.match(script, /^#!\/bin\/bash\n/);
    const digest = createHash("sha256").update(script, "utf8").digest("hex");
    type C = Record<string, { exec?: { command: string[] } } | undefined>;
    const deployment = named("Deployment", "mailserver")?.inputs as {
      spec: { template: { spec: { containers: C[] } } };
    };
    const [dms] = deployment.spec.template.spec.containers;
    const execs = ["startupProbe", "readinessProbe", "livenessProbe"].map(
      (p) => dms?.[p]?.exec?.command,
    );
    const props = (await pack().getAnalyzerInfo()).policies.find((p) => p.name === POLICY)
      ?.configSchema?.properties;
    const patches = props?.knownUserPatches?.default as { sha256: string }[];
    const known = props?.knownExecs?.default as { command: string[] }[];
    assert.ok(
      patches.some((p) => p.sha256 === digest),
      `user-patches.sh changed (sha256 ${digest}): rehearse and review it, then list it in ${POLICY}.knownUserPatches`,
    );
    for (const argv of execs) {
      assert.ok(argv, "every probe of the mail container is an exec probe");
      assert.ok(
        known.some((k) => JSON.stringify(k.command) === JSON.stringify(argv)),
        `${JSON.stringify(argv)} is not in ${POLICY}.knownExecs`,
      );
    }
  });
});
