/**
 * The zone's DNS records as the adopt tool reads them: from a file holding the JSON body of
 * Cloudflare's "List DNS Records" call (one page, or an array of pages), or fetched through the
 * official `cloudflare` client with a token from the environment.
 */
import Cloudflare from "cloudflare";
import { z } from "zod";
import { InputError, readInput } from "../cli/common";

/** A record as the tool needs it; the API sends more fields, which are ignored. */
export interface ZoneRecord {
  id: string;
  type: string;
  name: string;
  content: string;
  proxied: boolean;
  priority?: number;
  zoneId?: string;
}

const HEX32 = /^[0-9a-f]{32}$/;

const recordSchema = z.looseObject({
  id: z.string().regex(HEX32, { error: "expected a 32-hex-digit record id" }),
  type: z.string().min(1),
  name: z.string().min(1),
  // Some types (SRV, CAA) carry their value in `data`; the mail records all have `content`.
  content: z.string().default(""),
  proxied: z.boolean().optional(),
  priority: z.number().optional(),
  zone_id: z.string().optional(),
});

const pageSchema = z.looseObject({
  success: z.literal(true, { error: "expected success: true (a failed API call was saved)" }),
  result: z.array(recordSchema),
});

function toZoneRecord(r: z.infer<typeof recordSchema>): ZoneRecord {
  return {
    id: r.id,
    type: r.type.toUpperCase(),
    name: r.name,
    content: r.content,
    proxied: r.proxied === true,
    priority: r.priority,
    zoneId: r.zone_id,
  };
}

const EXPECTED = `expected the JSON body of Cloudflare's "List DNS Records" API`;

/** Records of a saved list response; every problem of the file in one error (one line). */
export function parseRecordList(text: string, source: string): ZoneRecord[] {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new InputError(`${source}: not JSON (${(err as Error).message}); ${EXPECTED}`);
  }
  const schema = Array.isArray(body) ? z.array(pageSchema).min(1) : pageSchema;
  const pages = schema.safeParse(body);
  if (!pages.success) {
    const problems = pages.error.issues.map(
      (i) => `${i.path.map(String).join(".") || "(top level)"}: ${i.message}`,
    );
    throw new InputError(`${source}: ${problems.join("; ")}; ${EXPECTED}`);
  }
  const list = Array.isArray(pages.data) ? pages.data : [pages.data];
  return list.flatMap((p) => p.result.map(toZoneRecord));
}

export function readRecordFile(file: string): ZoneRecord[] {
  return parseRecordList(readInput(file, "--records file"), `--records ${file}`);
}

export interface FetchArgs {
  apiToken: string;
  /** The client's own override (CLOUDFLARE_BASE_URL); tests point it at a loopback fake. */
  baseURL?: string;
  zoneId?: string;
  domain: string;
}

/** Zone id and records through the official client; API errors never echo the token. */
export async function fetchZone(
  args: FetchArgs,
): Promise<{ zoneId: string; records: ZoneRecord[] }> {
  const client = new Cloudflare({ apiToken: args.apiToken, baseURL: args.baseURL, maxRetries: 1 });
  try {
    const zoneId = args.zoneId ?? (await zoneIdByName(client, args.domain));
    const records: ZoneRecord[] = [];
    for await (const r of client.dns.records.list({ zone_id: zoneId, per_page: 100 })) {
      records.push(toZoneRecord(recordSchema.parse(r)));
    }
    return { zoneId, records };
  } catch (err) {
    if (err instanceof InputError) throw err;
    const status = err instanceof Cloudflare.APIError ? ` (HTTP ${String(err.status)})` : "";
    const message = (err as Error).message.replace(/\s*\n\s*/g, " ");
    throw new InputError(`Cloudflare API${status}: ${message}`);
  }
}

async function zoneIdByName(client: Cloudflare, domain: string): Promise<string> {
  for await (const zone of client.zones.list({ name: domain })) {
    return zone.id;
  }
  throw new InputError(`Cloudflare API: no zone named ${domain} is visible to this token`);
}

export function checkZoneId(zoneId: string): string {
  if (!HEX32.test(zoneId)) {
    throw new InputError(`--zone-id ${JSON.stringify(zoneId)}: expected 32 hex digits`);
  }
  return zoneId;
}
