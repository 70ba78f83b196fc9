// unixcrypt ships types only under its "import" export condition, which ts-node's CommonJS
// resolution (used by `pulumi up` with typescript: true) cannot see.
declare module "unixcrypt" {
  export function encrypt(plaintext: string, salt?: string): string;
  export function verify(plaintext: string, hash: string): boolean;
}
