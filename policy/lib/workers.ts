/** Cloudflare Worker tokens (@pulumi/cloudflare 6.x): the script (and its deprecated alias). */
export const WORKER_SCRIPT_TYPES = [
  "cloudflare:index/workersScript:WorkersScript",
  "cloudflare:index/workerScript:WorkerScript",
];
export const WORKER_DOMAIN_TYPE = "cloudflare:index/workersCustomDomain:WorkersCustomDomain";

/** A host name as DNS compares it: case-insensitive, without the root's trailing dot. */
export const hostKey = (host: string): string => host.trim().toLowerCase().replace(/\.$/, "");
