/**
 * A second family of dms-env-known, drawn from the image reference grammar the runtime parses
 * (distribution/reference regexp.go and normalize.go, go-digest v1.0.0) and from the tags
 * docker-mailserver publishes (its generic_publish.yml at v15.0.0: {{major}}, {{major}}.{{minor}},
 * {{major}}.{{minor}}.{{patch}} and edge; git tags v15.0.1, v15.0.2 and v15.1.0 exist). The env
 * table is 15.0.0's: an image of another release, or one that names none (a bare digest), is
 * refused; 15.0.0 in every spelling of the registry, with or without its digest, is clean.
 */
import fc from "fast-check";
import { dmsContainer } from "./fixtures";
import { mailPodSpec, mailWorkloadPod, variant, WORKLOAD_TYPES, type Family } from "./generative";

const POLICY = "dms-env-known";
const bad = variant(POLICY, "violation");
const good = variant(POLICY, "clean");
const HEX = "4f0c3a9e".repeat(8);

const workloadType = fc.constantFrom(...WORKLOAD_TYPES);
/** Hosts as regexp.go spells them: Docker Hub and its legacy name, host:port, IPv6, localhost. */
const registry = fc.constantFrom(
  "",
  "docker.io/",
  "index.docker.io/",
  "ghcr.io/",
  "registry.local:5000/",
  "localhost:5000/",
  "[fc00::1]:5000/",
);
/** The repository: DMS's own, or the same name as a familiar (library/) one. */
const repository = fc.constantFrom("mailserver/docker-mailserver", "docker-mailserver");
const otherRelease = fc.constantFrom("14.0.0", "15.0.1", "15.0.2", "15.1.0", "15.0", "15", "edge");

function dmsStack(type: string, image: string) {
  return mailWorkloadPod(type, mailPodSpec([dmsContainer({ image })]));
}

export const dmsReleaseFamily: Family = {
  policy: POLICY,
  violating: fc.oneof(
    fc
      .tuple(workloadType, registry, repository)
      .map(([type, reg, repo]) =>
        bad(
          `bare digest: ${reg}${repo}@sha256 in ${type}`,
          dmsStack(type, `${reg}${repo}@sha256:${HEX}`),
        ),
      ),
    fc
      .tuple(workloadType, registry, repository, otherRelease, fc.boolean())
      .map(([type, reg, repo, tag, digest]) => {
        const image = `${reg}${repo}:${tag}${digest ? `@sha256:${HEX}` : ""}`;
        return bad(`other release ${tag}: ${image} in ${type}`, dmsStack(type, image));
      }),
    fc
      .tuple(workloadType, registry)
      .map(([type, reg]) =>
        bad(`no tag: ${reg} in ${type}`, dmsStack(type, `${reg}mailserver/docker-mailserver`)),
      ),
    // References the runtime refuses, so no release can be read from them.
    fc
      .tuple(
        workloadType,
        fc.constantFrom(
          `:15.0.0@sha256:${HEX.toUpperCase()}`,
          `:15.0.0@sha256:${HEX.slice(2)}`,
          `:15.0.0@md5:${HEX.slice(32)}`,
          ":15.0.0+dms",
          `:${"1".repeat(129)}`,
        ),
      )
      .map(([type, suffix]) =>
        bad(
          `invalid reference ${suffix.slice(0, 12)}: in ${type}`,
          dmsStack(type, `docker.io/mailserver/docker-mailserver${suffix}`),
        ),
      ),
  ),
  legit: fc
    .tuple(workloadType, registry, repository, fc.boolean())
    .map(([type, reg, repo, digest]) => {
      const image = `${reg}${repo}:15.0.0${digest ? `@sha256:${HEX}` : ""}`;
      return good(
        `15.0.0${digest ? " with digest" : ""}: ${image} in ${type}`,
        dmsStack(type, image),
      );
    }),
};
