// The web page in a real browser (headless Chromium from the system's packages, driven by Playwright),
// against the whole engine started here with `wrangler dev` on a free 127.0.0.1 port and fresh temporary
// state: key entry, a run followed live from PENDING to SUCCESS without a reload, a drill-down into a
// failed state, and its retry. The CLI is checked against the same engine. Everything started here is
// stopped here. Plain JavaScript, like the scripts whose process helpers it shares.
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, openSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { freePort, startWrangler, stop, waitForOk } from "../../scripts/bench/processes.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const CHROMIUM = "/usr/bin/chromium";
const KEY = `e2e-${crypto.randomUUID()}`;
// CI installs Chromium (.ci/run) and must run this; elsewhere it is skipped, visibly, when it is missing.
const runs = existsSync(CHROMIUM) || Boolean(process.env.CI);

let engine;
let base;
let dir;

async function api(method, path, body) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { "x-api-key": KEY, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** Claims `count` ready states of `node` as a pull runtime would, waiting until they are offered. */
async function claim(ns, node, count) {
  let states = [];
  await vi.waitUntil(
    async () => {
      const answer = await api("POST", `/v0/namespace/${ns}/states/enqueue`, {
        nodes: [node],
        batch_size: count,
      });
      states = [...states, ...answer.states];
      return states.length >= count;
    },
    { timeout: 20_000, interval: 100 },
  );
  return states;
}

/** A pull graph a → b in a fresh namespace, triggered: nothing runs until the test reports. */
async function pullRun() {
  const ns = `e2e-${crypto.randomUUID().slice(0, 8)}`;
  const schema = (fields) => ({
    type: "object",
    properties: Object.fromEntries(fields.map((f) => [f, { type: "string" }])),
  });
  await api("PUT", `/v0/namespace/${ns}/nodes/`, {
    runtime_name: "e2e",
    nodes: [
      { name: "A", inputs_schema: schema([]), outputs_schema: schema(["v"]), secrets: [] },
      { name: "B", inputs_schema: schema(["v"]), outputs_schema: schema([]), secrets: [] },
    ],
  });
  const graph = await api("PUT", `/v0/namespace/${ns}/graph/g`, {
    secrets: {},
    nodes: [
      { node_name: "A", namespace: ns, identifier: "a", inputs: {}, next_nodes: ["b"] },
      { node_name: "B", namespace: ns, identifier: "b", inputs: { v: "${{ a.outputs.v }}" } },
    ],
    retry_policy: { max_retries: 0 },
  });
  expect(graph.validation_status).toBe("VALID");
  const { run_id: runId } = await api("POST", `/v0/namespace/${ns}/graph/g/trigger`, { inputs: {} });
  return { ns, runId };
}

function exoflare(args) {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(root, "scripts/exoflare.mjs"), ...args, "--url", base, "--key", KEY],
      { cwd: root, timeout: 30_000 },
      (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === "number" ? error.code : null) : 0, stdout, stderr }),
    );
  });
}

describe.skipIf(!runs)("the web page and the CLI against a running engine", { timeout: 120_000 }, () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "exoflare-e2e-"));
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    engine = startWrangler({
      wrangler: join(root, "node_modules", ".bin", "wrangler"),
      cwd: root,
      args: ["--var", `STATE_MANAGER_SECRET:${KEY}`],
      port,
      persistTo: join(dir, "state"),
      log: openSync(join(dir, "wrangler.log"), "a"),
    });
    await waitForOk(`${base}/health`, engine, 90_000);
  }, 120_000);

  afterAll(async () => {
    if (engine) await stop(engine);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("follows a run live from PENDING to SUCCESS, drills into a failed state and retries it", async () => {
    const { ns, runId } = await pullRun();
    const browser = await chromium.launchPersistentContext(join(dir, "profile"), {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    try {
      const page = browser.pages()[0] ?? (await browser.newPage());
      const problems = [];
      page.on("pageerror", (e) => problems.push(e.message));
      const requested = [];
      page.on("request", (r) => requested.push(r.url()));

      // Key entry: a wrong key is refused on the page; the right one opens the namespaces.
      await page.goto(`${base}/`);
      await page.fill("#api-key", "not-the-key");
      await page.click("form.key-form button[type=submit]");
      await page.getByText("The engine refused this key.").waitFor();
      await page.fill("#api-key", KEY);
      await page.click("form.key-form button[type=submit]");
      await page.locator("ul.namespaces").getByRole("link", { name: ns }).click();

      // The runs list shows the run waiting; open it.
      const row = page.locator(`tr[data-run-id="${runId}"]`);
      await row.getByText("PENDING").waitFor();
      await row.getByRole("link", { name: runId }).click();
      await page.locator('[data-testid="live"]', { hasText: "live" }).waitFor();
      const card = (id) => page.locator(`.node-card[data-node="${id}"]`);
      await card("a").locator('[data-status="CREATED"]', { hasText: "CREATED 1" }).waitFor();
      // A mark on the page: if anything reloaded it, the mark would be gone.
      await page.evaluate(() => {
        window.__notReloaded = true;
      });

      // The run moves on: a fans out to two b's, one succeeds, one fails; the page follows by itself.
      const [a] = await claim(ns, "A", 1);
      await api("POST", `/v0/namespace/${ns}/state/${a.state_id}/executed`, {
        outputs: [{ v: "good" }, { v: "bad" }],
      });
      await card("a").locator('[data-status="SUCCESS"]', { hasText: "SUCCESS 2" }).waitFor();
      const bs = await claim(ns, "B", 2);
      await card("b").locator('[data-status="QUEUED"]', { hasText: "QUEUED 2" }).waitFor();
      const good = bs.find((s) => s.inputs.v === "good");
      const bad = bs.find((s) => s.inputs.v === "bad");
      await api("POST", `/v0/namespace/${ns}/state/${good.state_id}/executed`, { outputs: [{}] });
      await api("POST", `/v0/namespace/${ns}/state/${bad.state_id}/errored`, {
        error: "bad input, as asked",
      });
      await page.locator(".run-header .badge", { hasText: "FAILED" }).waitFor();
      await card("b").locator('[data-status="ERRORED"]', { hasText: "ERRORED 1" }).waitFor();

      // Drill down: the node's states, then the failed one's inputs and error; retry it.
      await card("b").click();
      await page.locator(`tr[data-state-id="${bad.state_id}"]`).getByText("ERRORED").waitFor();
      await page.locator(`tr[data-state-id="${bad.state_id}"] button`).click();
      await page.locator(".state-details .error-text", { hasText: "bad input, as asked" }).waitFor();
      expect(JSON.parse(await page.locator(".state-details pre.inputs").textContent())).toEqual({ v: "bad" });
      await page.getByRole("button", { name: "Retry this state" }).click();
      await page.getByText(/Retry created: state [0-9a-f]{24}/).waitFor();
      await page.locator(".run-header .badge", { hasText: "PENDING" }).waitFor();
      await card("b").locator('[data-status="RETRY_CREATED"]', { hasText: "RETRY_CREATED 1" }).waitFor();

      // The retry runs and the run succeeds: the page shows it live, with a full progress bar.
      const [retried] = await claim(ns, "B", 1);
      expect(retried.inputs).toEqual({ v: "bad" });
      await api("POST", `/v0/namespace/${ns}/state/${retried.state_id}/executed`, { outputs: [{}] });
      await page.locator(".run-header .badge", { hasText: "SUCCESS" }).waitFor();
      await page.locator('[data-testid="live"]', { hasText: "finished" }).waitFor();
      const bar = page.locator(".run-header .progress");
      expect(await bar.getAttribute("aria-valuenow")).toBe(await bar.getAttribute("aria-valuemax"));
      await expect
        .poll(() => page.locator('[data-testid="run-counts"]').textContent())
        .toContain("0 pending");

      expect(await page.evaluate(() => window.__notReloaded)).toBe(true);
      // The key stayed in the tab's session storage: never in a URL, never in local storage.
      expect(await page.evaluate(() => sessionStorage.getItem("exoflare.apiKey"))).toBe(KEY);
      expect(await page.evaluate(() => localStorage.length)).toBe(0);
      expect(requested.filter((u) => u.includes(KEY))).toEqual([]);
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }
  });

  it("the CLI lists, shows and follows the same engine's runs", async () => {
    const { ns, runId } = await pullRun();
    const listed = await exoflare(["runs", ns]);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(new RegExp(`${runId}\\s+g\\s+PENDING`));
    const [a] = await claim(ns, "A", 1);
    await api("POST", `/v0/namespace/${ns}/state/${a.state_id}/executed`, { outputs: [] });
    const watched = await exoflare(["run", ns, runId, "--watch"]);
    expect(watched.stderr).toBe("");
    expect(watched.code).toBe(0);
    expect(watched.stdout).toMatch(/SUCCESS\s+\[#+\] 1\/1 states done, 0 failed/);
    const shown = await exoflare(["run", ns, runId, "--json"]);
    expect(JSON.parse(shown.stdout)).toMatchObject({
      run_id: runId,
      status: "SUCCESS",
      nodes: [{ identifier: "a" }, { identifier: "b" }],
    });
  });
});
