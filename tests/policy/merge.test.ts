/**
 * Server-Side Apply merge semantics (Kubernetes "Server-Side Apply: merge strategy", and the
 * `+listType`/`+mapType`/`+structType` markers of kubernetes/api v0.34.0 core/v1/types.go), each
 * expected object written out as the API server would store it.
 */
import * as assert from "node:assert/strict";
import { applyPatch } from "../../policy/lib/merge";
import type { PlainObject } from "../../policy/lib/plain";

const deployment = (): PlainObject => ({
  metadata: { name: "mailserver", labels: { app: "mail" } },
  spec: {
    template: {
      spec: {
        nodeSelector: { zone: "a", disk: "ssd" },
        containers: [
          {
            name: "dms",
            image: "mailserver/docker-mailserver:15.0.0",
            args: ["--one", "--two"],
            env: [
              { name: "A", value: "1" },
              { name: "P", valueFrom: { secretKeyRef: { name: "s", key: "k", optional: true } } },
            ],
            ports: [{ containerPort: 25, protocol: "TCP", name: "smtp" }],
          },
          { name: "sidecar", image: "busybox:1.36" },
        ],
      },
    },
  },
});

const spec = (o: PlainObject) =>
  ((o.spec as PlainObject).template as PlainObject).spec as PlainObject;

describe("applyPatch: a Patch merged as Server-Side Apply merges it", () => {
  it("merges containers by name and env by name, keeping what the patch leaves out", () => {
    const out = applyPatch("Deployment", deployment(), {
      spec: {
        template: {
          spec: {
            containers: [
              {
                name: "dms",
                env: [
                  { name: "A", value: "2" },
                  { name: "B", value: "3" },
                ],
              },
            ],
          },
        },
      },
    });
    assert.deepEqual(spec(out).containers, [
      {
        name: "dms",
        image: "mailserver/docker-mailserver:15.0.0",
        args: ["--one", "--two"],
        env: [
          { name: "A", value: "2" },
          { name: "P", valueFrom: { secretKeyRef: { name: "s", key: "k", optional: true } } },
          { name: "B", value: "3" },
        ],
        ports: [{ containerPort: 25, protocol: "TCP", name: "smtp" }],
      },
      { name: "sidecar", image: "busybox:1.36" },
    ]);
  });

  it("replaces atomic lists whole (args)", () => {
    const out = applyPatch("Deployment", deployment(), {
      spec: { template: { spec: { containers: [{ name: "dms", args: ["--three"] }] } } },
    });
    assert.deepEqual((spec(out).containers as PlainObject[])[0]?.args, ["--three"]);
  });

  it("matches a port without protocol to the TCP one (protocol defaults to TCP)", () => {
    const out = applyPatch("Deployment", deployment(), {
      spec: {
        template: {
          spec: { containers: [{ name: "dms", ports: [{ containerPort: 25, name: "mx" }] }] },
        },
      },
    });
    assert.deepEqual((spec(out).containers as PlainObject[])[0]?.ports, [
      { containerPort: 25, protocol: "TCP", name: "mx" },
    ]);
  });

  it("replaces an atomic map (nodeSelector) and an atomic struct (secretKeyRef) whole", () => {
    const out = applyPatch("Deployment", deployment(), {
      spec: {
        template: {
          spec: {
            nodeSelector: { zone: "b" },
            containers: [
              {
                name: "dms",
                env: [{ name: "P", valueFrom: { secretKeyRef: { name: "t", key: "k" } } }],
              },
            ],
          },
        },
      },
    });
    assert.deepEqual(spec(out).nodeSelector, { zone: "b" });
    const env = (spec(out).containers as PlainObject[])[0]?.env as PlainObject[];
    assert.deepEqual(env[1], { name: "P", valueFrom: { secretKeyRef: { name: "t", key: "k" } } });
  });

  it("merges granular maps key by key (labels)", () => {
    const out = applyPatch("Deployment", deployment(), { metadata: { labels: { tier: "mail" } } });
    assert.deepEqual((out.metadata as PlainObject).labels, { app: "mail", tier: "mail" });
  });

  it("replaces a Service selector whole and merges its ports by port and protocol", () => {
    const service: PlainObject = {
      spec: {
        selector: { app: "mail", tier: "mta" },
        ports: [
          { port: 25, protocol: "TCP", targetPort: 25 },
          { port: 993, protocol: "TCP", targetPort: 993 },
        ],
      },
    };
    const out = applyPatch("Service", service, {
      spec: { selector: { app: "other" }, ports: [{ port: 25, targetPort: 2525 }] },
    });
    assert.deepEqual(out.spec, {
      selector: { app: "other" },
      ports: [
        { port: 25, protocol: "TCP", targetPort: 2525 },
        { port: 993, protocol: "TCP", targetPort: 993 },
      ],
    });
  });

  it("finds a CronJob's pod spec under its job template", () => {
    const cron: PlainObject = {
      spec: {
        jobTemplate: {
          spec: { template: { spec: { containers: [{ name: "probe", image: "python:3.12" }] } } },
        },
      },
    };
    const out = applyPatch("CronJob", cron, {
      spec: {
        jobTemplate: {
          spec: {
            template: {
              spec: { containers: [{ name: "probe", env: [{ name: "X", value: "1" }] }] },
            },
          },
        },
      },
    });
    assert.deepEqual(out, {
      spec: {
        jobTemplate: {
          spec: {
            template: {
              spec: {
                containers: [
                  { name: "probe", image: "python:3.12", env: [{ name: "X", value: "1" }] },
                ],
              },
            },
          },
        },
      },
    });
  });
});
