/**
 * The placeholder RSA keys of the mocked Vault, generated once per process and never written to
 * disk. Generation runs in libuv's thread pool and starts on the first call, not when this module
 * loads: importing the tools starts no work. tools/offline/mock-program.ts calls it first thing in a run,
 * so the ~0.2 s a 2048-bit key takes overlaps loading the world instead of adding to it.
 */
import { generateKeyPair } from "node:crypto";
import { promisify } from "node:util";

export interface PlaceholderKeys {
  /** A private PKCS#8 PEM for Rspamd's DKIM signing (2048 bits, what the pack requires). */
  dkim2048: string;
  /** Mailgun's public DKIM record (1024 bits, as Mailgun publishes it). */
  mailgun1024: string;
}

const rsa = promisify(generateKeyPair);

async function generate(): Promise<PlaceholderKeys> {
  const [rspamd, mailgun] = await Promise.all([
    rsa("rsa", { modulusLength: 2048 }),
    rsa("rsa", { modulusLength: 1024 }),
  ]);
  const mailgunDer = mailgun.publicKey.export({ type: "spki", format: "der" });
  return {
    dkim2048: rspamd.privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    mailgun1024: `v=DKIM1; k=rsa; p=${mailgunDer.toString("base64")}`,
  };
}

let generated: Promise<PlaceholderKeys> | undefined;

/** The keys: generated on the first call; every later call gets the same ones. */
export function placeholderKeys(): Promise<PlaceholderKeys> {
  return (generated ??= generate());
}
