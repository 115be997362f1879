#!/usr/bin/env node
// `npm start`: the whole engine on local workerd (wrangler dev) with persisted local state.
// Extra arguments go to `wrangler dev` (e.g. `npm start -- --port 8790 --persist-to ./state`).
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The API key when STATE_MANAGER_SECRET is not set: for local development only. */
export const LOCAL_DEFAULT_KEY = "exoflare-local-key";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const extra = process.argv.slice(2);
const has = (flag) => extra.some((a) => a === flag || a.startsWith(`${flag}=`));

const key = process.env.STATE_MANAGER_SECRET || LOCAL_DEFAULT_KEY;
const args = ["dev"];
if (!has("--ip")) args.push("--ip", "127.0.0.1");
if (!has("--port")) args.push("--port", "8787");
if (!has("--persist-to")) args.push("--persist-to", join(root, ".wrangler", "state"));
args.push("--var", `STATE_MANAGER_SECRET:${key}`, ...extra);

const source = process.env.STATE_MANAGER_SECRET ? "from STATE_MANAGER_SECRET" : "local default";
console.log(`exoflare: API key (${source}): ${key}`);
console.log("exoflare: send it as the x-api-key header; GET /health needs none.");

const child = spawn(join(root, "node_modules", ".bin", "wrangler"), args, {
  cwd: root,
  stdio: "inherit",
  env: { WRANGLER_SEND_METRICS: "false", ...process.env },
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
