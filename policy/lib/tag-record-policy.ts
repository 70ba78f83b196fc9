/** A mandatory policy for a tag-list TXT record that must exist once at `<label>.<domain>`. */
import type {
  ReportViolation,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  StackValidationArgs,
  StackValidationPolicy,
} from "@pulumi/policy";
import { DOMAIN_SCHEMA, readConfig } from "./config";
import { checkSingleRecord, isDnsRecord, parseTags, recordOf, stackRecords, txtAt } from "./dns";
import { PreviewGaps, raise, Unknown } from "./plain";
import { plainResources } from "./stack";

const configSchema = DOMAIN_SCHEMA;

export interface TagRecordSpec {
  label: string;
  version: string;
  check: (tags: Map<string, string>) => string[];
}

export function makePolicy(
  name: string,
  description: string,
  spec: TagRecordSpec,
): ResourceValidationPolicy & StackValidationPolicy {
  const at = (domain: string) => (n: string) => n === `${spec.label}.${domain}`;
  return {
    name,
    description,
    enforcementLevel: "mandatory",
    configSchema,
    validateResource: (args: ResourceValidationArgs, report: ReportViolation) => {
      const { domain } = readConfig<{ domain: string }>(configSchema, args.getConfig());
      const record = recordOf(args.type, args.name, args.urn, args.props, domain);
      if (!record) return;
      const text = txtAt(record, at(domain), /^/);
      if (text instanceof Unknown) raise(text);
      if (typeof text !== "string") return;
      const { tags, errors } = parseTags(text);
      const problems = [...errors];
      if (tags[0]?.[0] !== "v" || tags[0][1] !== spec.version) {
        problems.push(`"v=${spec.version}" must come first`);
      }
      problems.push(...spec.check(new Map(tags)));
      for (const p of problems) report(`${spec.label}.${domain}: ${p}.`);
    },
    validateStack: (args: StackValidationArgs, report: ReportViolation) => {
      const { domain } = readConfig<{ domain: string }>(configSchema, args.getConfig());
      const gaps = new PreviewGaps();
      const records = stackRecords(plainResources(args.resources, isDnsRecord), domain);
      const prefix = new RegExp(`^v=${spec.version}`, "i");
      checkSingleRecord(records, at(domain), prefix, `${spec.label} ${spec.version}`, report, gaps);
      gaps.settle();
    },
  };
}
