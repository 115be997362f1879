// Property-based fuzzing of every route (design invariant 5): hostile bodies, paths and headers never get
// a 5xx, every answer is JSON, and a refused request (4xx) changes nothing that can be observed. The runs
// are bounded and the seed fixed, so the suite stays fast and a failure replays; fast-check prints the
// seed and the shrunk counterexample. To explore further, change FUZZ_SEED (or raise the run counts)
// locally.
import { exports } from "cloudflare:workers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fresh, json, KEY } from "./helpers/http";
import { enqueue, node, registerPull, statesOf, trigger, upsertValid } from "./helpers/pull";

const FUZZ_SEED = 20_260_411;
const RUNS = { bodies: 160, paths: 120, headers: 60 };

/** A namespace of pull nodes nobody runs: a run with a QUEUED root, one with a CREATED root. */
async function fixture() {
  const ns = fresh("fuzz");
  await registerPull(ns, [
    { name: "P", inputs: ["v"], outputs: ["v"], secrets: ["token"] },
    { name: "Q", inputs: ["v"] },
  ]);
  await upsertValid(ns, "g", {
    secrets: { token: "fuzz-secret-value" },
    nodes: [node(ns, "P", "p", { v: "x" }, ["q"]), node(ns, "Q", "q", { v: "${{ p.outputs.v }}" })],
  });
  const queuedRun = await trigger(ns, "g");
  const [queued] = await enqueue(ns, ["P"], 1);
  const createdRun = await trigger(ns, "g");
  const [created] = await statesOf(ns, createdRun);
  if (!queued || !created) throw new Error("fixture: no states");
  return { ns, runs: [queuedRun, createdRun], states: [queued.state_id, created.id] };
}
type Fixture = Awaited<ReturnType<typeof fixture>>;

/**
 * Everything a request to the fixture's namespace could change: its nodes, graphs, run index and the
 * states of its runs. Run counts are left out on purpose: they move on by themselves.
 */
async function observe(f: Fixture): Promise<string> {
  const [nodes, graphs, runs, ...views] = await Promise.all([
    json("GET", `/v0/namespace/${f.ns}/nodes/`),
    json("GET", `/v0/namespace/${f.ns}/graphs/`),
    json<{ total: number; runs: Array<{ run_id: string }> }>("GET", `/v0/namespace/${f.ns}/runs/1/1000`),
    ...f.runs.map((r) => json("GET", `/v0/namespace/${f.ns}/states/run/${r}/graph`)),
  ]);
  return JSON.stringify({
    nodes: nodes.body,
    graphs: graphs.body,
    runs: [runs.body.total, runs.body.runs.map((r) => r.run_id)],
    views: views.map((v) => v.body),
  });
}

interface Route {
  method: string;
  /** Path with `:ns`, `:graph`, `:run`, `:state`, `:page`, `:size` for the parameters. */
  path: string;
  /** A body the route would accept on the fixture (mutated into hostile ones); undefined: no body. */
  valid?: unknown;
}

const routes = (ns: string): Route[] => [
  { method: "GET", path: "/health" },
  { method: "GET", path: "/v0/namespaces" },
  {
    method: "PUT",
    path: "/v0/namespace/:ns/nodes/",
    valid: {
      runtime_name: "fuzz-rt",
      nodes: [{ name: "P", inputs_schema: {}, outputs_schema: {}, secrets: [] }],
    },
  },
  { method: "GET", path: "/v0/namespace/:ns/nodes/" },
  {
    method: "PUT",
    path: "/v0/namespace/:ns/graph/:graph",
    valid: {
      secrets: { token: "t" },
      nodes: [{ node_name: "P", namespace: ns, identifier: "p", inputs: { v: "x" }, next_nodes: null }],
      retry_policy: { max_retries: 1 },
      store_config: { required_keys: [], default_values: {} },
      triggers: [],
    },
  },
  { method: "GET", path: "/v0/namespace/:ns/graph/:graph" },
  { method: "GET", path: "/v0/namespace/:ns/graphs/" },
  {
    method: "POST",
    path: "/v0/namespace/:ns/graph/:graph/trigger",
    valid: { inputs: { v: "y" }, store: {}, start_delay: 0 },
  },
  { method: "GET", path: "/v0/namespace/:ns/runs/:page/:size" },
  { method: "GET", path: "/v0/namespace/:ns/states/run/:run/graph" },
  { method: "GET", path: "/v0/namespace/:ns/states/run/:run/costs" },
  { method: "POST", path: "/v0/namespace/:ns/states/run/:run/cancel" },
  { method: "GET", path: "/v0/namespace/:ns/graph/:graph/run/:run/node/:state" },
  { method: "POST", path: "/v0/namespace/:ns/states/enqueue", valid: { nodes: ["P", "Q"], batch_size: 1 } },
  { method: "POST", path: "/v0/namespace/:ns/state/:state/executed", valid: { outputs: [{ v: "1" }] } },
  { method: "POST", path: "/v0/namespace/:ns/state/:state/errored", valid: { error: "boom" } },
  { method: "POST", path: "/v0/namespace/:ns/state/:state/prune", valid: { data: { why: "x" } } },
  { method: "POST", path: "/v0/namespace/:ns/state/:state/re-enqueue-after", valid: { enqueue_after: 1000 } },
  { method: "POST", path: "/v0/namespace/:ns/state/:state/manual-retry", valid: { fanout_id: "f" } },
  { method: "GET", path: "/v0/namespace/:ns/state/:state/secrets" },
];

// ---- hostile material ----

const deep = fc
  .tuple(fc.integer({ min: 129, max: 20_000 }), fc.constantFrom("[]", "{}", "mixed"))
  .map(([n, kind]) => {
    if (kind === "[]") return "[".repeat(n) + "]".repeat(n);
    if (kind === "{}") return `${'{"a":'.repeat(n)}1${"}".repeat(n)}`;
    return `{"outputs":[${'{"d":['.repeat(n)}${"]}".repeat(n)}],"data":1}`;
  });

/** Replaces the value at a random path of `valid` with arbitrary JSON (one field wrong at a time). */
function mutate(valid: unknown): fc.Arbitrary<unknown> {
  const paths: Array<Array<string | number>> = [[]];
  const walk = (v: unknown, at: Array<string | number>) => {
    if (v === null || typeof v !== "object") return;
    for (const [k, child] of Object.entries(v)) {
      const key = Array.isArray(v) ? Number(k) : k;
      paths.push([...at, key]);
      walk(child, [...at, key]);
    }
  };
  walk(valid, []);
  const replacement = fc.oneof(
    fc.jsonValue({ maxDepth: 3 }),
    fc.string({ unit: "grapheme", maxLength: 40 }),
    fc.constantFrom(-1, 0, 1e308, -1e-308, 2 ** 53, "", " ", "\u0000", "${{ store.x }}", "${{", null, [], {}),
    fc.integer({ min: 1_025, max: 3_000 }).map((n) => "n".repeat(n)),
  );
  return fc.tuple(fc.constantFrom(...paths), replacement).map(([path, value]) => {
    const copy = structuredClone(valid) as Record<string | number, unknown>;
    if (path.length === 0) return value;
    let target: Record<string | number, unknown> = copy;
    for (const key of path.slice(0, -1)) target = target[key] as Record<string | number, unknown>;
    target[path[path.length - 1] as string | number] = value;
    return copy;
  });
}

/** A request body: bytes that are not UTF-8, junk text, arbitrary JSON, deep JSON, a valid body broken. */
function hostileBody(route: Route): fc.Arbitrary<string | Uint8Array | undefined> {
  const valid = route.valid ?? {};
  return fc.oneof(
    { weight: 1, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }) },
    { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 64 }) },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)) },
    { weight: 1, arbitrary: deep },
    { weight: 4, arbitrary: mutate(valid).map((v) => JSON.stringify(v)) },
  );
}

/** A path parameter: the fixture's own value, a near miss, or garbage (percent signs, unicode, long). */
function hostileParam(good: string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...good) },
    { weight: 1, arbitrary: fc.constantFrom(...good).map((g) => `${g.slice(0, -2)}00`) },
    { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 30 }).map(encodeURIComponent) },
    {
      weight: 1,
      arbitrary: fc.constantFrom("%", "%ZZ", "%00", "..", ".", "-1", "0", "1e9", "%2F", "a%2Fb", "ß", "😀"),
    },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 4_000 }).map((n) => "x".repeat(n)) },
    { weight: 1, arbitrary: fc.stringMatching(/^[0-9a-f]{24}$/) },
    { weight: 1, arbitrary: fc.uuid() },
  );
}

function pathOf(route: Route, params: Record<string, string>): string {
  return route.path.replace(/:(ns|graph|run|state|page|size)/g, (_, name: string) => params[name] ?? "");
}

const paramsArb = (f: Fixture) =>
  fc.record({
    ns: hostileParam([f.ns, f.ns, "other"]),
    graph: hostileParam(["g", "g", "nope"]),
    run: hostileParam(f.runs),
    state: hostileParam(f.states),
    page: hostileParam(["1", "2"]),
    size: hostileParam(["10", "1000"]),
  });

/** Header values a fetch Request accepts: printable latin-1, no CR/LF. */
const headerValue = fc.string({ unit: "grapheme-ascii", maxLength: 300 });

interface Sent {
  route: Route;
  path: string;
  body: string | Uint8Array | undefined;
  headers: Record<string, string>;
}

/** Sends one request as it is (bytes and headers untouched); asserts no 5xx and a JSON answer. */
async function send(sent: Sent): Promise<number> {
  const res = await exports.default.fetch(
    new Request(`http://x${sent.path}`, {
      method: sent.route.method,
      // GET and HEAD cannot carry one (the fetch API refuses to build such a request).
      body: sent.route.method === "GET" ? undefined : sent.body,
      headers: { "x-api-key": KEY, "content-type": "application/json", ...sent.headers },
    }),
  );
  const text = await res.text();
  const what = `${sent.route.method} ${sent.path.slice(0, 200)} -> ${res.status} ${text.slice(0, 300)}`;
  expect(res.status, what).toBeLessThan(500);
  expect(res.headers.get("content-type"), what).toMatch(/^application\/json/);
  expect(() => JSON.parse(text), what).not.toThrow();
  return res.status;
}

/** The property: no 5xx, JSON, and a refusal leaves the fixture's namespace as it was. */
async function holds(f: Fixture, sent: Sent, before: { value: string }): Promise<void> {
  const status = await send(sent);
  const after = await observe(f);
  if (status >= 400)
    expect(after, `${sent.route.method} ${sent.path} refused with ${status}`).toBe(before.value);
  before.value = after; // a success may change things: the next request is judged against the new state
}

const routeArb = (f: Fixture) => fc.constantFrom(...routes(f.ns));

describe("fuzzing every route (bounded, fixed seed)", () => {
  it("hostile bodies: no 5xx, JSON answers, nothing changed by a refusal", async () => {
    const f = await fixture();
    const before = { value: await observe(f) };
    const withBodies = routes(f.ns).filter((r) => r.valid !== undefined);
    const arb = fc.constantFrom(...withBodies).chain((route) =>
      fc.record({
        route: fc.constant(route),
        params: fc.constant({
          ns: f.ns,
          graph: "g",
          run: f.runs[0],
          state: f.states[0],
          page: "1",
          size: "10",
        }),
        which: fc.nat({ max: 1 }),
        body: hostileBody(route),
      }),
    );
    await fc.assert(
      fc.asyncProperty(arb, async ({ route, params, which, body }) => {
        const p = { ...params, run: f.runs[which] ?? "", state: f.states[which] ?? "" };
        await holds(f, { route, path: pathOf(route, p), body, headers: {} }, before);
      }),
      { seed: FUZZ_SEED, numRuns: RUNS.bodies, endOnFailure: true },
    );
  }, 120_000);

  it("hostile paths: no 5xx, JSON answers, nothing changed by a refusal", async () => {
    const f = await fixture();
    const before = { value: await observe(f) };
    const arb = fc.record({ route: routeArb(f), params: paramsArb(f) }).chain(({ route, params }) =>
      fc.record({
        route: fc.constant(route),
        path: fc.constant(pathOf(route, params)),
        body: route.valid === undefined ? fc.constant(undefined) : hostileBody(route),
      }),
    );
    await fc.assert(
      fc.asyncProperty(arb, async ({ route, path, body }) => {
        await holds(f, { route, path, body, headers: {} }, before);
      }),
      { seed: FUZZ_SEED + 1, numRuns: RUNS.paths, endOnFailure: true },
    );
  }, 120_000);

  it("hostile headers: no 5xx, JSON answers, nothing changed by a refusal", async () => {
    const f = await fixture();
    const before = { value: await observe(f) };
    const arb = fc.record({
      route: routeArb(f),
      which: fc.nat({ max: 1 }),
      headers: fc.record(
        {
          "x-api-key": fc.oneof(fc.constant(KEY), fc.constant(KEY), headerValue, fc.constant(`${KEY} `)),
          "content-type": fc.oneof(
            fc.constantFrom("application/json", "text/plain", "application/x-www-form-urlencoded", ""),
            headerValue,
          ),
          "idempotency-key": headerValue,
          "x-exosphere-request-id": fc.oneof(headerValue, fc.uuid()),
          origin: fc.oneof(fc.constant("http://localhost:3000"), headerValue),
        },
        { requiredKeys: ["x-api-key"] },
      ),
    });
    await fc.assert(
      fc.asyncProperty(arb, async ({ route, which, headers }) => {
        const p = {
          ns: f.ns,
          graph: "g",
          run: f.runs[which] ?? "",
          state: f.states[which] ?? "",
          page: "1",
          size: "5",
        };
        const body = route.valid === undefined ? undefined : JSON.stringify(route.valid);
        await holds(f, { route, path: pathOf(route, p), body, headers }, before);
      }),
      { seed: FUZZ_SEED + 2, numRuns: RUNS.headers, endOnFailure: true },
    );
  }, 120_000);
});
