/**
 * Drives a CrossGuard policy pack over its Analyzer gRPC interface the way the Pulumi CLI does:
 * spawn `run-policy-pack` in the pack directory, read the port from the first stdout line, then
 * GetAnalyzerInfo / Configure / Analyze / AnalyzeStack. Used by the policy tests and meant for
 * offline plan/audit tooling, so it has no test-framework dependencies.
 */
import type { ChildProcessWithoutNullStreams } from "node:child_process";
import * as grpc from "@grpc/grpc-js";
import { Empty } from "google-protobuf/google/protobuf/empty_pb";
import { AnalyzerClient, AnalyzerService } from "@pulumi/pulumi/proto/analyzer_grpc_pb";
import * as pb from "@pulumi/pulumi/proto/analyzer_pb";
import {
  analyzeRequest,
  analyzeStackRequest,
  decodeAnalyzeResponse,
  kindFromPb,
  LEVEL_TO_PB,
  levelFromPb,
  type AnalyzeResult,
  type AnalyzerResource,
  type PackInfo,
  type PolicyInfo,
} from "./wire";
import { spawnPack, type SpawnOptions } from "./process";
import { resolvePackConfig, type EffectiveConfig, type PackConfig } from "./config";
import { toStruct } from "./struct-encoding";

/**
 * The CLI dials plugins with a 400 MB receive limit instead of gRPC's 4 MB default (pulumi/pulumi
 * sdk/go/common/util/rpcutil `GrpcChannelOptions`, pulumi/pulumi#2319); @pulumi/policy's server
 * accepts the same. Without it a large stack's AnalyzeStack answer is refused by this client.
 */
const MAX_RPC_MESSAGE_BYTES = 400 * 1024 * 1024;

export type { PackConfig };
export {
  UNKNOWN,
  type AnalyzeResult,
  type AnalyzerResource,
  type Diagnostic,
  type EnforcementLevel,
  type PackInfo,
  type PolicyInfo,
  type ResourceOptions,
} from "./wire";

export interface StartOptions extends SpawnOptions {
  /** Names the config in error messages (the file it came from). */
  configSource?: string;
  /** URN prefix for resources without an explicit urn. */
  project?: string;
  stack?: string;
}

function unary<Req, Res>(
  call: (req: Req, cb: (err: grpc.ServiceError | null, res: Res) => void) => unknown,
  req: Req,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    call(req, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

export class PolicyPackClient {
  private stderrText = "";
  private info?: PackInfo;

  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    private readonly client: AnalyzerClient,
    private readonly urnPrefix: string,
  ) {
    child.stderr.on("data", (chunk: Buffer) => (this.stderrText += chunk.toString()));
    // Keep draining stdout after the port line so a chatty pack cannot block on a full pipe.
    child.stdout.resume();
  }

  /** Starts the pack in `packDir` and configures it once (schema defaults plus `config`). */
  static async start(
    packDir: string,
    config: PackConfig = {},
    options: StartOptions = {},
  ): Promise<PolicyPackClient> {
    const { child, port: serving } = spawnPack(packDir, options);
    const port = await serving;
    const client = new AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
      "grpc.max_receive_message_length": MAX_RPC_MESSAGE_BYTES,
      // Per-call bookkeeping a loopback channel to a child process has no use for (transparent
      // retries, channelz statistics); ~7% of the client's CPU per Analyze at 10,000 resources.
      "grpc.enable_retries": 0,
      "grpc.enable_channelz": 0,
    });
    const prefix = `urn:pulumi:${options.stack ?? "test"}::${options.project ?? "mailserver"}::`;
    const pack = new PolicyPackClient(child, client, prefix);
    try {
      await pack.configure(config, options.configSource);
    } catch (err) {
      await pack.close();
      throw err;
    }
    return pack;
  }

  /** The pack's process id (the benchmarks read its CPU time). */
  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** What the pack wrote to stderr so far (diagnostics when something goes wrong). */
  get stderr(): string {
    return this.stderrText;
  }

  async getAnalyzerInfo(): Promise<PackInfo> {
    const res = await unary<Empty, pb.AnalyzerInfo>(
      (r, cb) => this.client.getAnalyzerInfo(r, cb),
      new Empty(),
    );
    this.info = {
      name: res.getName(),
      version: res.getVersion(),
      policies: res.getPoliciesList().map((p) => {
        const schema = p.getConfigschema();
        const info: PolicyInfo = {
          name: p.getName(),
          description: p.getDescription(),
          enforcementLevel: levelFromPb(p.getEnforcementlevel()),
          kind: kindFromPb(p.getPolicyType()),
        };
        if (schema) {
          info.configSchema = {
            properties: (schema.getProperties()?.toJavaScript() ?? {}) as Record<
              string,
              Record<string, unknown>
            >,
            required: schema.getRequiredList(),
          };
        }
        return info;
      }),
    };
    return this.info;
  }

  /** The pack's metadata, read by the first Configure. */
  get packInfo(): PackInfo {
    if (!this.info) throw new Error("the pack has not been configured");
    return this.info;
  }

  /** Sends Configure for every policy (tools/analyzer/config.ts rules); returns what was sent. */
  async configure(config: PackConfig = {}, source?: string): Promise<EffectiveConfig> {
    const info = this.info ?? (await this.getAnalyzerInfo());
    const effective = resolvePackConfig(info, config, source);
    const req = new pb.ConfigureAnalyzerRequest();
    const map = req.getPolicyconfigMap();
    for (const [name, c] of Object.entries(effective)) {
      const pc = new pb.PolicyConfig();
      pc.setEnforcementlevel(LEVEL_TO_PB[c.enforcementLevel]);
      pc.setProperties(toStruct(c.properties));
      map.set(name, pc);
    }
    await unary<pb.ConfigureAnalyzerRequest, Empty>((r, cb) => this.client.configure(r, cb), req);
    return effective;
  }

  urn(type: string, name: string): string {
    return `${this.urnPrefix}${type}::${name}`;
  }

  private urnOf(resource: AnalyzerResource): string {
    return resource.urn ?? this.urn(resource.type, resource.name);
  }

  async analyze(resource: AnalyzerResource): Promise<AnalyzeResult> {
    return this.send(AnalyzerService.analyze.path, analyzeRequest(resource, this.urnOf(resource)));
  }

  async analyzeStack(resources: AnalyzerResource[]): Promise<AnalyzeResult> {
    const request = analyzeStackRequest(resources, (r) => this.urnOf(r));
    return this.send(AnalyzerService.analyzeStack.path, request);
  }

  /** A call with the request already encoded and the response decoded by decodeAnalyzeResponse. */
  private send(path: string, request: Buffer): Promise<AnalyzeResult> {
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(
        path,
        (bytes: Buffer) => bytes,
        decodeAnalyzeResponse,
        request,
        (err, res) =>
          err || !res ? reject(err ?? new Error(`${path}: no response`)) : resolve(res),
      );
    });
  }

  /** Closes the channel and stops the pack process; resolves once it has exited. */
  async close(): Promise<void> {
    this.client.close();
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  }
}
