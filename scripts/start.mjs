#!/usr/bin/env node
// `npm start`: the engine and the example runtime Worker together on local workerd (one `wrangler dev`
// with both configurations), with persisted local state; once the engine answers, the example runtime's
// nodes are registered (a deployed runtime registers itself; locally only the engine has a port).
// Extra arguments go to `wrangler dev` (e.g. `npm start -- --port 8790 --persist-to ./state`), which
// checks them itself; `npm start -- --help` shows ours.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { LOCAL_DEFAULT_KEY, LOCAL_SECRETS_KEY } from "./lib/engine.mjs";
import { EXAMPLE_RUNTIME_CONFIG, registerExampleRuntime } from "./lib/example-runtime.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const extra = process.argv.slice(2);
const has = (flag) => extra.some((a) => a === flag || a.startsWith(`${flag}=`));

if (has("--help") || extra.includes("-h")) {
  console.log(`Usage: npm start -- [wrangler dev options]

Runs the engine and the example runtime Worker (examples/runtime/) together on local workerd
(\`wrangler dev -c wrangler.toml -c examples/runtime/wrangler.toml\`), with their state persisted across
restarts, and registers the example runtime's nodes once the engine answers.
It serves the API key STATE_MANAGER_SECRET when set, else the local default ${LOCAL_DEFAULT_KEY}, and
encrypts graph secrets with SECRETS_ENCRYPTION_KEY when set, else a public local-development key.

Defaults it passes to wrangler dev unless you pass your own:
  --ip 127.0.0.1                          listen on this machine only
  --port 8787                             the API at http://127.0.0.1:8787
  --persist-to .wrangler/state            where local state lives (delete it for a fresh start)

Any other argument goes to wrangler dev as it is: \`npx wrangler dev --help\` lists them.`);
  process.exit(0);
}

const wrangler = join(root, "node_modules", ".bin", "wrangler");
if (!existsSync(wrangler)) {
  console.error("start: wrangler is not installed in this checkout: run `npm install` first");
  process.exit(1);
}

const key = process.env.STATE_MANAGER_SECRET || LOCAL_DEFAULT_KEY;
const args = ["dev", "-c", join(root, "wrangler.toml"), "-c", EXAMPLE_RUNTIME_CONFIG];
if (!has("--ip")) args.push("--ip", "127.0.0.1");
if (!has("--port")) args.push("--port", "8787");
if (!has("--persist-to")) args.push("--persist-to", join(root, ".wrangler", "state"));
// A deployed Worker without SECRETS_ENCRYPTION_KEY refuses secrets; local development gets a known key.
const secretsKey = process.env.SECRETS_ENCRYPTION_KEY || LOCAL_SECRETS_KEY;
args.push("--var", `STATE_MANAGER_SECRET:${key}`, "--var", `SECRETS_ENCRYPTION_KEY:${secretsKey}`, ...extra);

const source = process.env.STATE_MANAGER_SECRET ? "from STATE_MANAGER_SECRET" : "local default";
console.log(`exoflare: API key (${source}): ${key}`);
console.log("exoflare: send it as the x-api-key header; GET /health needs none.");
console.log(
  process.env.SECRETS_ENCRYPTION_KEY
    ? "exoflare: graph secrets encrypted with SECRETS_ENCRYPTION_KEY."
    : "exoflare: graph secrets encrypted with the public local-development key (set SECRETS_ENCRYPTION_KEY for your own).",
);

// With this very Node: wrangler's own `#!/usr/bin/env node` could find an older one on the PATH.
const child = spawn(process.execPath, [wrangler, ...args], {
  cwd: root,
  stdio: "inherit",
  // wrangler's local trace collector records a span for every storage call on the engine's own thread;
  // a wide fan-out runs about twice as fast without it. X_LOCAL_OBSERVABILITY=true turns it back on.
  env: { WRANGLER_SEND_METRICS: "false", X_LOCAL_OBSERVABILITY: "false", ...process.env },
});
child.on("error", (e) => {
  console.error(`start: could not run wrangler (${e.message}): run \`npm install\` and try again`);
  process.exit(1);
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));

// The engine's address as wrangler dev serves it (the defaults above, or what was passed).
const optionValue = (flag, fallback) => {
  const i = extra.findIndex((a) => a === flag || a.startsWith(`${flag}=`));
  if (i < 0) return fallback;
  return extra[i].includes("=") ? extra[i].slice(flag.length + 1) : (extra[i + 1] ?? fallback);
};
const host = optionValue("--ip", "127.0.0.1");
const uri = `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${optionValue("--port", "8787")}`;

/** Registers the example runtime once the engine answers /health (wrangler may take a while to start). */
async function registerWhenUp() {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline && child.exitCode === null) {
    const up = await fetch(`${uri}/health`, { signal: AbortSignal.timeout(2000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (up) {
      const answer = await registerExampleRuntime({ uri, key });
      console.log(
        `exoflare: example runtime registered (${answer.registered.join(", ")}) on its queue ${answer.queue}.`,
      );
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  if (child.exitCode === null)
    console.error(
      `start: the engine did not answer at ${uri} within 120 s; the example runtime is not registered`,
    );
}
registerWhenUp().catch((e) =>
  console.error(`start: registering the example runtime failed: ${e instanceof Error ? e.message : e}`),
);
