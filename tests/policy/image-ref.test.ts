/**
 * The image reference grammar against distribution/reference's own tests (commit 0965666,
 * normalize_test.go TestValidateReferenceName, TestValidateRemoteName, TestParseRepositoryInfo;
 * normalize.go ParseDockerRef's doc example) and go-digest v1.0.0 (algorithm.go: lowercase hex of
 * the algorithm's length; sha256, sha384, sha512 registered).
 */
import * as assert from "node:assert/strict";
import { parseImageRef } from "../../policy/lib/image-ref";

const VALID = [
  "docker/docker",
  "debian",
  "localhost/library/debian",
  "LOCALDOMAIN/debian",
  "index.docker.io/debian",
  "127.0.0.1:5000/library/debian",
  "192.168.0.1",
  "192.168.0.1:80",
  "192.168.0.2:25000/debian",
  "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
  "[fc00::1]:5000/docker/docker",
  "[fc00:1:2:3:4:5:6:7]:5000/library/debian",
  "docker.io/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
  "Docker/docker",
  "docker---rules/docker",
  "jess/t",
  "dock__er/docker",
];

const INVALID = [
  "https://github.com/docker/docker",
  "docker/Docker",
  "-docker",
  "-docker.io/docker/docker",
  "docker///docker",
  "docker.io/docker/Docker",
  "[fc00::1]",
  "[fc00::1]:5000",
  "fc00::1:5000/debian",
  "[fe80::1%eth0]:5000/debian",
  "[2001:db8:3:4::192.0.2.33]:5000/debian",
  "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
  "docker-/docker",
  "____/____",
  "dock..er/docker",
  "dock-.er/docker",
  "docker/",
  `${"this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_".repeat(4)}/docker`,
];

/** TestParseRepositoryInfo: familiar or ambiguous name -> domain and remote name. */
const NORMALIZED: [string, string, string][] = [
  ["localhost/fooo", "localhost", "fooo"],
  ["LOCALDOMAIN/fooo/bar", "LOCALDOMAIN", "fooo/bar"],
  ["fooo/bar", "docker.io", "fooo/bar"],
  ["index.docker.io/fooo/bar", "docker.io", "fooo/bar"],
  ["ubuntu", "docker.io", "library/ubuntu"],
  ["library/ubuntu", "docker.io", "library/ubuntu"],
  ["docker.io/foo", "docker.io", "library/foo"],
  ["127.0.0.1:8000/privatebase", "127.0.0.1:8000", "privatebase"],
  ["example.com:8000/private/moonbase", "example.com:8000", "private/moonbase"],
];

const HEX = "7cc4b5aefd1d0cadf8d97d4350462ba51c694ebca145b08d7d41b41acc8db5aa";

describe("image references (distribution/reference, go-digest)", () => {
  it("accepts what ParseNormalizedNamed accepts", () => {
    for (const name of VALID) assert.ok(!("error" in parseImageRef(name)), name);
  });

  it("refuses what ParseNormalizedNamed refuses", () => {
    for (const name of INVALID) assert.ok("error" in parseImageRef(name), name);
  });

  it("normalizes familiar names to docker.io and library/", () => {
    for (const [name, domain, path] of NORMALIZED) {
      assert.deepEqual(parseImageRef(name), { domain, path, tag: undefined, digest: undefined });
    }
  });

  it("reads tag and digest together, a port as a port, a last colon as a tag", () => {
    assert.deepEqual(parseImageRef(`docker.io/library/busybox:latest@sha256:${HEX}`), {
      domain: "docker.io",
      path: "library/busybox",
      tag: "latest",
      digest: `sha256:${HEX}`,
    });
    assert.deepEqual(parseImageRef("registry.local:5000/mailserver/docker-mailserver:15.0.0"), {
      domain: "registry.local:5000",
      path: "mailserver/docker-mailserver",
      tag: "15.0.0",
      digest: undefined,
    });
    assert.equal((parseImageRef("192.168.0.1:80") as { tag: string }).tag, "80");
  });

  it("validates digests as go-digest does", () => {
    const at = (digest: string) => parseImageRef(`mailserver/docker-mailserver@${digest}`);
    assert.deepEqual(at(`sha256:${HEX.toUpperCase()}`), {
      error: "invalid checksum digest format",
    });
    assert.deepEqual(at(`sha256:${HEX.slice(1)}`), { error: "invalid checksum digest length" });
    assert.deepEqual(at(`md5:${HEX.slice(32)}`), { error: "unsupported digest algorithm md5" });
    assert.ok(!("error" in at(`sha512:${HEX}${HEX}`)));
    assert.ok("error" in parseImageRef(`mailserver/docker-mailserver@${HEX}`));
  });
});
