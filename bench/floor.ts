/** The floor for `npm run bench`: a process that only loads the Pulumi SDK and the providers. */
import "@pulumi/pulumi";
import "@pulumi/kubernetes";
import "@pulumi/cloudflare";
import "@pulumi/vault";
