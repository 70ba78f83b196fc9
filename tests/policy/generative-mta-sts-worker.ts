/**
 * Generative family of mta-sts-worker-known, drawn from what Cloudflare runs for a request to
 * mta-sts.<domain>: the script the custom domain names, as the module `mainModule` (a `bodyPart`
 * upload is service-worker syntax), after any static `assets` (served before the script) and with
 * the modules in `files`; the script reads its policy from `env.<binding>`. Violating: any change
 * to the content (the pack cannot run it), the known content uploaded another way or next to
 * assets or extra modules, the policy binding renamed or of another type, a second script on the
 * host (any spelling of it). Legitimate: the known content with other bindings, another module
 * name, the host in upper case, a script on no mta-sts host.
 */
import fc from "fast-check";
import { UNKNOWN, type AnalyzerResource } from "../../tools/analyzer/client";
import { mtaStsDomain, mtaStsWorker, T } from "./fixtures";
import { replace, variant, type Family } from "./generative";

const POLICY = "mta-sts-worker-known";

function workerWith(edit: (props: Record<string, unknown>) => void): AnalyzerResource[] {
  const worker = mtaStsWorker();
  edit(worker.properties);
  return replace([worker]);
}

const bindingsOf = (props: Record<string, unknown>) => props.bindings as Record<string, unknown>[];

const bad = variant(POLICY, "violation");
const preview = variant(POLICY, "violation", "advisory");
const good = variant(POLICY, "clean");

const text = fc.string({ minLength: 1, maxLength: 30 });
const name = fc.stringMatching(/^[A-Z][A-Z0-9_]{0,15}$/).filter((n) => n !== "MTA_STS_POLICY");

export const mtaStsWorkerFamily: Family = {
  policy: POLICY,
  violating: fc.oneof(
    text.map((t) =>
      bad(
        `content with a line added: ${JSON.stringify(t)}`,
        workerWith((p) => {
          p.content = `${String(p.content)}// ${t}\n`;
        }),
      ),
    ),
    fc
      .constantFrom(
        ['"/.well-known/mta-sts.txt"', '"/.well-known/mta-sts"'],
        ["status: 404", "status: 200"],
        ['request.method !== "GET"', 'request.method === "POST"'],
        ["env.MTA_STS_POLICY", '"version: STSv1\\r\\nmode: none\\r\\nmax_age: 86400\\r\\n"'],
      )
      .map(([from, to]) =>
        bad(
          `content edited: ${to}`,
          workerWith((p) => {
            p.content = String(p.content).replace(from, to);
          }),
        ),
      ),
    fc.constant(
      preview(
        "content unknown at preview",
        workerWith((p) => {
          p.content = UNKNOWN.string;
        }),
      ),
    ),
    fc.constant(
      bad(
        "the known content uploaded as a service worker",
        workerWith((p) => {
          p.bodyPart = p.mainModule;
          delete p.mainModule;
        }),
      ),
    ),
    fc
      .constantFrom<[string, unknown]>(
        ["assets", { directory: "public", config: { runWorkerFirst: false } }],
        ["files", { "policy.mjs": { content: "export default 1" } }],
        ["contentFile", "worker.mjs"],
        ["keepAssets", true],
        ["contentType", "text/x-python"],
      )
      .map(([field, value]) =>
        bad(
          `the known content with ${field}`,
          workerWith((p) => {
            p[field] = value;
          }),
        ),
      ),
    name.map((n) =>
      bad(
        `the policy binding renamed: ${n}`,
        workerWith((p) => {
          const [b] = bindingsOf(p);
          if (b) b.name = n;
        }),
      ),
    ),
    fc.constantFrom("secret_text", "json").map((type) =>
      bad(
        `the policy binding of type ${type}`,
        workerWith((p) => {
          const [b] = bindingsOf(p);
          if (b) b.type = type;
        }),
      ),
    ),
    fc
      .constantFrom(
        "mta-sts.viktorbarzin.me",
        "MTA-STS.viktorbarzin.me",
        "mta-sts.viktorbarzin.me.",
      )
      .map((host) =>
        bad(`a second script on ${host}`, [
          ...replace([]),
          {
            ...mtaStsWorker(),
            name: "mta-sts-worker-2",
            properties: {
              ...mtaStsWorker().properties,
              scriptName: "mta-sts-2",
              content: "export default {};\n",
            },
          },
          { ...mtaStsDomain("mta-sts-2", host), name: "mta-sts-domain-2" },
        ]),
      ),
  ),
  legit: fc.oneof(
    fc.constantFrom("secret_text", "plain_text").map((type) =>
      good(
        `the known content with another ${type} binding`,
        workerWith((p) => {
          bindingsOf(p).push({ type, name: "EXTRA", text: "x" });
        }),
      ),
    ),
    fc.constantFrom("worker.mjs", "index.js", "policy.mjs").map((module) =>
      good(
        `the known content as module ${module}`,
        workerWith((p) => {
          p.mainModule = module;
        }),
      ),
    ),
    fc.constant(
      good("the host in upper case", replace([mtaStsDomain(undefined, "MTA-STS.VIKTORBARZIN.ME")])),
    ),
    text.map((t) =>
      good(`a script on no mta-sts host: ${JSON.stringify(t)}`, [
        ...replace([]),
        {
          type: T.workersScript,
          name: "other-worker",
          properties: {
            accountId: "PLACEHOLDER-account-id",
            scriptName: "other",
            mainModule: "other.mjs",
            content: `export default { fetch() { return new Response(${JSON.stringify(t)}); } };\n`,
          },
        },
      ]),
    ),
  ),
};
