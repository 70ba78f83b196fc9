/**
 * A fake of the two Cloudflare API v4 calls the adopt tool makes (list zones by name, list DNS
 * records, paginated), on 127.0.0.1 at an ephemeral port, so the real `cloudflare` client is
 * exercised end to end. Requests without the expected bearer token get Cloudflare's 401 shape.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeZone {
  id: string;
  name: string;
  records: Record<string, unknown>[];
}

export interface FakeCloudflare {
  baseURL: string;
  /** Every request path with its query, in order. */
  requests: string[];
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

function page<T>(items: T[], url: URL) {
  const per = Number(url.searchParams.get("per_page") ?? "20");
  const n = Number(url.searchParams.get("page") ?? "1");
  const result = items.slice((n - 1) * per, n * per);
  return {
    success: true,
    errors: [],
    messages: [],
    result,
    result_info: {
      page: n,
      per_page: per,
      count: result.length,
      total_count: items.length,
      total_pages: Math.ceil(items.length / per),
    },
  };
}

function handler(zone: FakeZone, token: string, requests: string[]) {
  return (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    requests.push(url.pathname + url.search);
    if (req.headers.authorization !== `Bearer ${token}`) {
      send(res, 401, {
        success: false,
        errors: [{ code: 10000, message: "Authentication error" }],
        messages: [],
        result: null,
      });
      return;
    }
    if (url.pathname === "/client/v4/zones") {
      const hits =
        url.searchParams.get("name") === zone.name ? [{ id: zone.id, name: zone.name }] : [];
      send(res, 200, page(hits, url));
    } else if (url.pathname === `/client/v4/zones/${zone.id}/dns_records`) {
      send(res, 200, page(zone.records, url));
    } else {
      send(res, 404, {
        success: false,
        errors: [{ code: 7003, message: "No route" }],
        result: null,
      });
    }
  };
}

export async function startFakeCloudflare(zone: FakeZone, token: string): Promise<FakeCloudflare> {
  const requests: string[] = [];
  const server: Server = createServer(handler(zone, token, requests));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseURL: `http://127.0.0.1:${port}/client/v4`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
