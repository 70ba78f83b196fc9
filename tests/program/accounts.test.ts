import { strict as assert } from "node:assert";
import {
  deterministicSalt,
  mailboxesOf,
  parseAccounts,
  renderPostfixAccounts,
  renderVirtualAliases,
  withExtraAliases,
} from "../../lib/accounts";
import { checkSaslLine } from "../../lib/secrets";
import { loadStackConfig, runProgram } from "../helpers/program";

describe("accounts and aliases", () => {
  const accounts = { "me@example.org": "correct horse", "spam@example.org": "battery staple" };

  it("hashes with SHA512-CRYPT that verifies against the password", async () => {
    const { verify } = await import("unixcrypt");
    const lines = (await renderPostfixAccounts(accounts)).trim().split("\n");
    assert.equal(lines.length, 2);
    const [address, hash] = lines[0].split("|{SHA512-CRYPT}");
    assert.equal(address, "me@example.org");
    assert.ok(verify("correct horse", hash), "hash verifies");
    assert.ok(!verify("wrong", hash), "a wrong password does not verify");
  });

  it("renders the same file for the same accounts and a new hash when a password changes", async () => {
    const first = await renderPostfixAccounts(accounts);
    assert.equal(await renderPostfixAccounts({ ...accounts }), first);
    const changed = await renderPostfixAccounts({ ...accounts, "me@example.org": "new password" });
    assert.notEqual(changed.split("\n")[0], first.split("\n")[0]);
    assert.equal(changed.split("\n")[1], first.split("\n")[1]);
  });

  it("gives every account its own salt", () => {
    const a = deterministicSalt("a@example.org", "same");
    const b = deterministicSalt("b@example.org", "same");
    assert.notEqual(a, b);
    assert.match(a, /^[./0-9A-Za-z]{16}$/);
  });

  it("drops aliases between two real mailboxes and keeps the rest", () => {
    const aliases = [
      "me@example.org spam@example.org",
      "postmaster@example.org me@example.org",
      "me@example.org me@example.org",
      "@example.org spam@example.org",
      "# comment",
      "",
    ].join("\n");
    assert.equal(
      renderVirtualAliases(aliases, accounts),
      "postmaster@example.org me@example.org\nme@example.org me@example.org\n@example.org spam@example.org\n",
    );
  });

  describe("the repository's aliases after Vault's", () => {
    const vault = "@example.org spam@example.org\n";
    const mailboxes = new Set(["me@example.org", "spam@example.org", "docs@example.org"]);

    it("appends them after the Vault lines, in config order, one line each", () => {
      const merged = withExtraAliases(
        vault,
        [
          { address: "plans@example.org", targets: ["spam@example.org"], why: "send-as" },
          { address: "docs@example.org", targets: ["docs@example.org"], why: "self" },
          { address: "fwd@example.org", targets: ["a@example.net", "b@example.net"], why: "two" },
        ],
        mailboxes,
      );
      assert.equal(
        merged.text,
        "@example.org spam@example.org\n" +
          "plans@example.org spam@example.org\n" +
          "docs@example.org docs@example.org\n" +
          "fwd@example.org a@example.net,b@example.net\n",
      );
      assert.deepEqual(merged.dropped, []);
    });

    it("drops a mailbox-to-other-mailbox alias as the Terraform filter did, and says which", () => {
      const merged = withExtraAliases(
        vault,
        [{ address: "me@example.org", targets: ["spam@example.org"], why: "x" }],
        mailboxes,
      );
      assert.equal(merged.text, vault);
      assert.deepEqual(merged.dropped, ["me@example.org spam@example.org"]);
    });

    it("starts the first appended alias on its own line when Vault's text has no final newline", () => {
      const merged = withExtraAliases(
        "@example.org spam@example.org",
        [{ address: "plans@example.org", targets: ["spam@example.org"], why: "x" }],
        mailboxes,
      );
      assert.equal(
        merged.text,
        "@example.org spam@example.org\nplans@example.org spam@example.org\n",
      );
    });

    it("reads the mailboxes from the rendered postfix-accounts.cf", async () => {
      const rendered = await renderPostfixAccounts(accounts);
      assert.deepEqual([...mailboxesOf(rendered)].sort(), ["me@example.org", "spam@example.org"]);
    });
  });

  it("refuses bad accounts JSON without echoing a password", () => {
    assert.throws(
      () => parseAccounts('{"not-an-address": "s3cret-value", "x@example.org": ""}', "Vault test"),
      (err: Error) =>
        /"not-an-address" is not an email address/.test(err.message) &&
        /the password of "x@example.org" is empty/.test(err.message) &&
        !err.message.includes("s3cret-value"),
    );
    assert.throws(() => parseAccounts("{not json", "Vault test"), /not valid JSON/);
  });

  it("refuses relay credentials for another relay without echoing them", () => {
    const relay = { host: "smtp-relay.brevo.com", port: 587 };
    assert.equal(
      checkSaslLine("[smtp-relay.brevo.com]:587 login:key\n", relay, "Vault"),
      "[smtp-relay.brevo.com]:587 login:key\n",
    );
    assert.throws(
      () => checkSaslLine("[smtp.mailgun.org]:587 login:hunter2", relay, "Vault x"),
      (err: Error) =>
        err.message.includes('"[smtp-relay.brevo.com]:587 <login>:<key>"') &&
        !err.message.includes("hunter2"),
    );
  });

  it("makes a preview of unchanged Vault data show no change", async () => {
    const config = loadStackConfig("prod");
    const secretsOf = async () => {
      const run = await runProgram({ config });
      const secret = run.resources.find(
        (r) => (r.inputs.metadata as { name?: string })?.name === "mailserver-accounts",
      );
      const deployment = run.resources.find(
        (r) =>
          (r.inputs.metadata as { name?: string })?.name === "mailserver" &&
          r.type.includes("Deployment"),
      );
      return JSON.stringify([secret?.inputs, deployment?.inputs]);
    };
    assert.equal(await secretsOf(), await secretsOf());
  });
});
