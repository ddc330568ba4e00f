// npm run pulumi -- <args>: the Pulumi CLI this project builds, with the project's local state
// (.pulumi-state/), its passphrase (PULUMI_CONFIG_PASSPHRASE, empty by default) and the cluster
// `npm start` used (KUBECONFIG, else the local control plane). E.g.
//   npm run pulumi -- config set --path 'clusters.example-cluster2.spec.podTypes[1].minWorkers' 2
//   npm run pulumi -- up --yes
//   npm run pulumi -- destroy --yes
import { spawnSync } from "child_process";
import { existsSync } from "fs";
import { join } from "path";
import { emptyPassphraseWarning, ensurePulumi, pulumiEnv, ROOT } from "./pulumi-cli";

const local = join(ROOT, ".cluster", "kubeconfig");
const kubeconfig =
  process.env.KUBECONFIG ?? (existsSync(local) ? local : join(process.env.HOME ?? "", ".kube", "config"));
const env = pulumiEnv({
  binDir: ensurePulumi(),
  stateDir: join(ROOT, ".pulumi-state"),
  kubeconfig,
  passphrase: process.env.PULUMI_CONFIG_PASSPHRASE,
});
const args = process.argv.slice(2);
const warning = emptyPassphraseWarning();
if (warning) console.error(warning);
const needsStack =
  args.length > 0 &&
  !["stack", "version", "about", "plugin", "whoami", "login", "logout"].includes(args[0]) &&
  !args.includes("--stack") &&
  !args.includes("-s");
const r = spawnSync("pulumi", needsStack ? [...args, "--stack", "dev"] : args, { cwd: ROOT, env, stdio: "inherit" });
process.exit(r.status ?? 1);
