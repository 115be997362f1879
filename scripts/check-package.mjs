#!/usr/bin/env node
// `npm run check:package`: the package installs like any other. Packs this checkout (`npm pack`, which
// builds dist/ through `prepack`), installs the tarball into a new project in a temporary directory outside
// the repository, writes a runtime Worker there that imports every entry ("exoflare", "exoflare/client",
// "exoflare/engine"), and checks that it type-checks against the packaged .d.ts (with the Workers types
// `wrangler types` writes, as a user's project has) and that Node can import the built JavaScript. It
// removes the directory afterwards. Installing the tarball fetches its dependencies (zod, hono, croner)
// from the npm registry.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dir = mkdtempSync(join(tmpdir(), "exoflare-package-"));
const run = (cmd, args, cwd) =>
  execFileSync(cmd, args, {
    cwd,
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
  });
const npm = process.platform === "win32" ? "npm.cmd" : "npm";

try {
  run(npm, ["pack", "--pack-destination", dir], root);
  const tarball = readdirSync(dir).find((f) => f.endsWith(".tgz"));
  if (!tarball) throw new Error("npm pack left no tarball");
  const project = join(dir, "my-runtime");
  mkdirSync(join(project, "src"), { recursive: true });
  writeFileSync(
    join(project, "package.json"),
    JSON.stringify({ name: "my-runtime", private: true, type: "module" }),
  );
  run(npm, ["install", "--no-audit", "--no-fund", join(dir, tarball)], project);
  writeFileSync(
    join(project, "wrangler.toml"),
    `name = "my-runtime"
main = "src/worker.ts"
compatibility_date = "2026-10-01"

[[services]]
binding = "ENGINE"
service = "exoflare"
entrypoint = "RuntimeEntrypoint"

[[queues.consumers]]
queue = "my-runtime"
`,
  );
  writeFileSync(
    join(project, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "ES2023",
        module: "ESNext",
        moduleResolution: "Bundler",
        lib: ["ES2023"],
        types: [],
        strict: true,
        noEmit: true,
        verbatimModuleSyntax: true,
        isolatedModules: true,
      },
      include: ["src", "worker-configuration.d.ts"],
    }),
  );
  writeFileSync(
    join(project, "src", "nodes.ts"),
    `import { z } from "zod";
import { BaseNode, createRuntime, type EngineRpc, httpEngine, PruneSignal } from "exoflare";
import { StateManager } from "exoflare/client";
import type { RuntimeEntrypoint } from "exoflare/engine";

const Inputs = z.object({ url: z.string() });
const Outputs = z.object({ page: z.string() });

export class FetchPages extends BaseNode<typeof Inputs, typeof Outputs> {
  static override nodeName = "FetchPages";
  override readonly inputs = Inputs;
  override readonly outputs = Outputs;
  async execute({ url }: z.infer<typeof Inputs>) {
    if (url === "") throw new PruneSignal({ reason: "empty" });
    return [{ page: url + "/1" }, { page: url + "/2" }];
  }
}

export const crawler = createRuntime({ namespace: "crawl", name: "crawler", queue: "CRAWLER_QUEUE", nodes: [new FetchPages()] });
export const remote = createRuntime<{ URL: string; KEY: string }>({
  namespace: "crawl",
  name: "crawler",
  queue: "CRAWLER_QUEUE",
  nodes: [new FetchPages()],
  engine: (env): EngineRpc => httpEngine({ url: env.URL, apiKey: env.KEY }),
});
export const client = new StateManager({ uri: "http://127.0.0.1:8787", key: "k", namespace: "crawl" });
export type Entrypoint = RuntimeEntrypoint;
`,
  );
  writeFileSync(
    join(project, "src", "worker.ts"),
    `import { crawler } from "./nodes";\n\nexport default crawler.worker;\n`,
  );
  run(process.execPath, [join(root, "node_modules/wrangler/bin/wrangler.js"), "types"], project);
  run(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", project], project);
  const loaded = run(
    process.execPath,
    [
      "--input-type=module",
      "-e",
      'const sdk = await import("exoflare"); const client = await import("exoflare/client"); ' +
        "console.log(typeof sdk.createRuntime, typeof sdk.httpEngine, typeof client.StateManager);",
    ],
    project,
  )
    .toString()
    .trim();
  if (loaded !== "function function function") throw new Error(`importing the built package gave: ${loaded}`);
  console.log(
    `check:package: ${tarball} installs, type-checks a runtime Worker importing every entry, and loads in Node`,
  );
} catch (e) {
  console.error(`check:package: ${e instanceof Error ? e.message : e}`);
  process.exitCode = 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
