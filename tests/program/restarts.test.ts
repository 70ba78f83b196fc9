/**
 * A pod restarts when something it reads only at start changes: the pod-template checksum covers
 * the mail pod's env ConfigMap (envFrom), its config files and secrets, and Roundcube's mounted
 * config and database password. Each case changes one input, runs the whole program again and
 * compares the template annotation; a change to neither pod leaves both annotations alone.
 */
import { strict as assert } from "node:assert";
import type { ProgramRun } from "../../tools/offline/mock-program";
import { placeholderVault, type VaultAnswer } from "../../tools/offline/mock-vault";
import { placeholderKeys } from "../../tools/offline/placeholder-keys";
import { at, find, loadStackConfig, prodRun, readyWorld, runProgram } from "../helpers/program";

const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
const CM = "kubernetes:core/v1:ConfigMap";
const ANNOTATION = "spec.template.metadata.annotations";

const checksum = (run: ProgramRun, deployment: string) =>
  at<Record<string, string>>(find(run, DEPLOYMENT, deployment), ANNOTATION)["checksum/config"];
const data = (run: ProgramRun, configMap: string) => at(find(run, CM, configMap), "data");

/** The prod config with one structured key edited. */
function prodWith(key: string, edit: (value: Record<string, unknown>) => void) {
  const config = loadStackConfig("prod");
  const value = JSON.parse(config[`mailserver:${key}`]) as Record<string, unknown>;
  edit(value);
  return { ...config, [`mailserver:${key}`]: JSON.stringify(value) };
}

describe("pod-template checksums", () => {
  let base: ProgramRun;
  before(async () => {
    base = await prodRun();
  });

  it("are secret outputs, since they cover secrets", () => {
    for (const name of ["mailserver", "roundcubemail"]) {
      const d = find(base, DEPLOYMENT, name);
      assert.ok(
        d.secretPaths.some((p) => p.startsWith(`${ANNOTATION}.checksum/config`)),
        `${name}: ${d.secretPaths.join(", ")}`,
      );
    }
  });

  it("change the mail pod's when only an env value changes (read through envFrom)", async () => {
    // The hostname reaches the mail pod only as OVERRIDE_HOSTNAME in the env ConfigMap.
    const run = await runProgram({
      config: prodWith("mailserver", (m) => (m.hostname = "mx.viktorbarzin.me")),
    });
    const env = data(run, "mailserver-env") as Record<string, string>;
    assert.equal(env.OVERRIDE_HOSTNAME, "mx.viktorbarzin.me");
    assert.deepEqual(data(run, "mailserver-config"), data(base, "mailserver-config"));
    assert.notEqual(checksum(run, "mailserver"), checksum(base, "mailserver"));
  });

  it("change Roundcube's when its mounted config changes", async () => {
    // The mail host name Roundcube verifies lives only in the subPath-mounted tls-peer.inc.php.
    const run = await runProgram({
      config: prodWith("mailserver", (m) => (m.hostname = "mx.viktorbarzin.me")),
    });
    assert.notDeepEqual(data(run, "roundcubemail-config"), data(base, "roundcubemail-config"));
    const env = (r: ProgramRun) =>
      at<{ env: unknown }[]>(
        find(r, DEPLOYMENT, "roundcubemail"),
        "spec.template.spec.containers",
      )[0].env;
    assert.deepEqual(env(run), env(base), "the env literals did not change");
    assert.notEqual(checksum(run, "roundcubemail"), checksum(base, "roundcubemail"));
  });

  it("change Roundcube's when its database password changes (read through secretKeyRef)", async () => {
    const config = loadStackConfig("prod");
    const placeholders = placeholderVault(config, await placeholderKeys(), readyWorld());
    const vault: VaultAnswer = (mount, name) => {
      const d = placeholders(mount, name);
      return "mailserver_roundcubemail_db_password" in d
        ? { ...d, mailserver_roundcubemail_db_password: "PLACEHOLDER-rotated-db-password" }
        : d;
    };
    const run = await runProgram({ config, vault });
    assert.notEqual(checksum(run, "roundcubemail"), checksum(base, "roundcubemail"));
    assert.equal(checksum(run, "mailserver"), checksum(base, "mailserver"));
  });

  it("stay put when neither pod's inputs change", async () => {
    const run = await runProgram({ config: prodWith("dns", (d) => (d.mxPriority = 5)) });
    assert.equal(checksum(run, "mailserver"), checksum(base, "mailserver"));
    assert.equal(checksum(run, "roundcubemail"), checksum(base, "roundcubemail"));
  });
});
