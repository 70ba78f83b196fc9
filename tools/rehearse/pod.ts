/**
 * "The mail pod" on this machine: the real Debian Postfix 3.7, Dovecot 2.3.19.1 and Rspamd 3.4
 * (the versions docker-mailserver 15.0.0 ships) with the config the program renders, laid out as
 * DMS 15.0.0's startup leaves it (world/dms-15.0.0/startup.yaml), in a network namespace of its
 * own joined to this host by one veth pair.
 *
 * Nothing on the host changes: the daemons run in mount, pid and UTS namespaces of their own,
 * where /etc is an overlay and the daemons' directories are private ones under one work
 * directory. Its parts, under ./pod/: the addresses, the network, the work directory, the
 * throwaway CA, the config tree, the daemons (the init, its watchdog, the readiness waits), the
 * DNS records, the CRI copy of the log, and the teardown that undoes them on every way out.
 */
import type { ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import type { ProgramRun } from "../offline/mock-program";
import { dmsEnvironment } from "./dms-startup";
import { serveDns, type DnsRecord } from "./dns";
import { containerEnv, mountedFiles, type MountedFile } from "./mounts";
import { OUTSIDE_ADDRESS } from "./pod/addresses";
import { configTree } from "./pod/config-tree";
import { followCri } from "./pod/cri-log";
import { spawnInit, waitForDaemons } from "./pod/daemons";
import { podNetwork, removeStaleNetworks } from "./pod/network";
import { podRecords, relayHostPort } from "./pod/records";
import { Teardown } from "./pod/teardown";
import { throwawayTls, type KeyPair } from "./pod/tls";
import { hostPath, layOutWorkDir, newWorkDir, removeStaleWorkDirs } from "./pod/work-dir";

export {
  OUTSIDE_ADDRESS,
  OUTSIDE_DOMAIN,
  OUTSIDE_NAME,
  POD_ADDRESS,
  RELAY_ADDRESS,
} from "./pod/addresses";
export { relayHostPort } from "./pod/records";

/** The mail Deployment in the plan. */
const NAMESPACE = "mailserver";
const DEPLOYMENT = "mailserver";
const MAIL_LOG = "/var/log/mail/mail.log";

export interface MailPod {
  netns: string;
  /** Host directory holding the pod's private trees (the pod's /etc overlay upper is `etc/`). */
  root: string;
  /** The host name the program gives the server (OVERRIDE_HOSTNAME). */
  hostname: string;
  env: Record<string, string>;
  files: MountedFile[];
  /** The throwaway CA's certificate (PEM) that signed the pod's and the relay's certificates. */
  caPem: string;
  /** Key and certificate (PEM) for the relay stand-in, signed by the same CA. */
  relayTls: KeyPair;
  /** The names the rehearsal's DNS answers. */
  records: DnsRecord[];
  /** Milliseconds the pod took to start. */
  startMs: number;
  /** A file of the pod as the host sees it (e.g. "/var/log/mail/mail.log"). */
  hostPath(podPath: string): string;
  /** Text of a pod file ("" when missing). */
  read(podPath: string): string;
  /** The CRI-format copy of the container's stdout (tail of mail.log), as the kubelet writes it. */
  criLog: string;
  stop(): Promise<void>;
  /** Synchronous teardown, safe in an `exit` handler. */
  stopSync(): void;
}

export interface PodOptions {
  /** Extra records for the rehearsal's DNS (e.g. a scenario's stand-ins). */
  records?: DnsRecord[];
  /** Replaces a mounted file's content before the pod starts (negative controls). */
  override?: Record<string, string>;
}

/** Starts the mail pod from the planned objects; the returned pod must be stopped. */
export async function startPod(run: ProgramRun, opts: PodOptions = {}): Promise<MailPod> {
  const started = Date.now();
  removeStaleNetworks();
  removeStaleWorkDirs();
  const network = podNetwork();
  // From here on any way out undoes what exists, the exit handler included.
  const teardown = new Teardown();
  const root = newWorkDir();
  let keepRoot = false;
  teardown.add(() => {
    if (!keepRoot) fs.rmSync(root, { recursive: true, force: true });
  });
  teardown.add(network.remove);
  try {
    const env = dmsEnvironment(containerEnv(run, NAMESPACE, DEPLOYMENT));
    const files = plannedFiles(run, opts.override ?? {});
    const tls = throwawayTls(path.join(root, "tls"), [env.HOSTNAME, relayHostPort(env).host]);
    layOutWorkDir(root);
    configTree(root, env, files, tls.leaves[0]);
    const records = podRecords(run, env, opts.records ?? []);
    network.create();
    const dns = await serveDns(OUTSIDE_ADDRESS, records);
    teardown.add(() => dns.close());
    const init = spawnInit(network.netns, root, env);
    teardown.add(() => {
      if (alive(init)) init.kill("SIGKILL");
    });
    await waitForDaemons(init, root);
    const criLog = path.join(root, "cri", "mailserver.log");
    teardown.add(followCri(hostPath(root, MAIL_LOG), criLog));
    const at = (podPath: string) => hostPath(root, podPath);
    return {
      netns: network.netns,
      root,
      hostname: env.HOSTNAME,
      env,
      files,
      caPem: tls.ca,
      relayTls: tls.leaves[1],
      records,
      startMs: Date.now() - started,
      hostPath: at,
      read: (p) => (fs.existsSync(at(p)) ? fs.readFileSync(at(p), "utf8") : ""),
      criLog,
      stopSync: teardown.run,
      stop: async () => {
        // The daemons gone before their namespace and files are.
        if (alive(init)) {
          const exited = new Promise((r) => init.once("exit", r));
          init.kill("SIGKILL");
          await exited;
        }
        teardown.run();
      },
    };
  } catch (err) {
    // REHEARSE_KEEP_FAILED=1: the failed pod's files (init.log, the config tree) stay for a look.
    keepRoot = Boolean(process.env.REHEARSE_KEEP_FAILED);
    if (keepRoot) console.error(`kept ${root}`);
    teardown.run();
    throw err;
  }
}

/** The Deployment's mounted files, with a negative control's replacements. */
function plannedFiles(run: ProgramRun, override: Record<string, string>): MountedFile[] {
  return mountedFiles(run, NAMESPACE, DEPLOYMENT).map((f) =>
    override[f.mountPath] !== undefined ? { ...f, content: override[f.mountPath] } : f,
  );
}

function alive(proc: ChildProcess): boolean {
  return proc.exitCode === null && proc.signalCode === null;
}
