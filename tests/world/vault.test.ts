/**
 * Vault as the owner stores it: world/today/vault.yaml records each key's encoding from the
 * owner's Terraform (stacks/mailserver/main.tf:15-18 `jsondecode`s four keys). The mocked Vault
 * answers in that encoding, the program decodes each key as that Terraform does, and a value in
 * another encoding is refused with the path and key, never the value.
 */
import * as assert from "node:assert/strict";
import { VAULT_ENCODING, VAULT_KEYS } from "../../lib/secrets";
import { loadStackConfig, runProgram } from "../../tools/offline/mock-program";
import { placeholderVault, type VaultAnswer } from "../../tools/offline/mock-vault";
import { placeholderKeys } from "../../tools/offline/placeholder-keys";
import { vaultFacts } from "../../tools/offline/world-answers";
import { loadWorld } from "../../tools/world/load";

const world = loadWorld("today");
// Program runs need every key the program reads: the ready world (the owner added the missing ones).
const ready = loadWorld("ready");
const programKeys = [
  // The paths Pulumi.prod.yaml names (mailserver:vault): secret/platform and secret/viktor.
  ...Object.values(VAULT_KEYS.platform).map((key) => ({ path: "platform", key })),
  ...Object.values(VAULT_KEYS.personal).map((key) => ({ path: "viktor", key })),
];

describe("Vault: the owner's encoding", () => {
  it("every key the program reads is recorded in the world, with the encoding the program decodes", () => {
    const facts = vaultFacts(world);
    for (const { path, key } of programKeys) {
      const f = facts.find((x) => x.path === path && x.key === key);
      assert.ok(f, `world/today/vault.yaml records no ${path} ${key}`);
      assert.equal(VAULT_ENCODING[key] ?? "raw", f.encoding, `encoding of ${key}`);
    }
  });

  it("the owner's Terraform jsondecode()s exactly these four keys (world/today/vault.yaml)", () => {
    const decoded = vaultFacts(world)
      .filter((f) => f.encoding !== "raw")
      .map((f) => f.key)
      .sort();
    assert.deepEqual(decoded, [
      "mailserver_accounts",
      "mailserver_aliases",
      "mailserver_opendkim_key",
      "mailserver_sasl_passwd",
    ]);
  });

  it("the mocked Vault stores the DKIM key, the relay line and the aliases as JSON string literals", async () => {
    const config = loadStackConfig("prod");
    const data = placeholderVault(config, await placeholderKeys(), world)("secret", "platform");
    for (const key of ["mailserver_opendkim_key", "mailserver_sasl_passwd", "mailserver_aliases"]) {
      const stored = data[key] ?? "";
      assert.equal(stored[0], '"', `${key} is stored quoted`);
      assert.equal(typeof JSON.parse(stored), "string", key);
    }
    assert.match(JSON.parse(data.mailserver_opendkim_key ?? '""') as string, /^-----BEGIN /);
    assert.equal(typeof JSON.parse(data.mailserver_accounts ?? "null"), "object");
  });

  it("the program decodes them: the relay line and the aliases reach the pod as plain text", async () => {
    const run = await runProgram({ config: loadStackConfig("prod"), world: ready });
    const secret = run.resources.find(
      (r) => (r.inputs.metadata as { name?: string } | undefined)?.name === "mailserver-accounts",
    );
    const files = secret?.inputs.stringData as Record<string, string>;
    assert.match(
      files["postfix-sasl-password.cf"] ?? "",
      /^\[smtp-relay\.brevo\.com\]:587 \S+:\S+\n$/,
    );
    assert.match(files["postfix-virtual.cf"] ?? "", /^@viktorbarzin\.me /m);
    assert.doesNotMatch(files["postfix-virtual.cf"] ?? "", /"/);
  });

  for (const key of ["mailserver_opendkim_key", "mailserver_sasl_passwd", "mailserver_aliases"]) {
    it(`a raw (unencoded) ${key} fails naming the path and key, never the value`, async () => {
      const config = loadStackConfig("prod");
      const placeholders = placeholderVault(config, await placeholderKeys(), ready);
      const raw = (v: string) => JSON.parse(v) as string;
      const vault: VaultAnswer = (mount, name) => {
        const d = { ...placeholders(mount, name) };
        if (key in d) d[key] = raw(d[key] ?? '""');
        return d;
      };
      const stored = raw(placeholders("secret", "platform")[key] ?? '""');
      await assert.rejects(runProgram({ config, world: ready, vault }), (err: Error) => {
        assert.match(
          err.message,
          new RegExp(`Vault secret/platform key "${key}": expected a JSON string literal`),
        );
        assert.ok(
          !err.message.includes(stored.slice(0, 20)),
          "the message shows no part of the value",
        );
        return true;
      });
    });
  }
});
