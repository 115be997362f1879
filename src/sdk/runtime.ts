// A push runtime: a Worker of its own whose queue() consumer executes TypeScript nodes for the ready states
// the engine sends to its queue, and reports the results back to each run (or branch-shard) actor in one
// call per actor per batch, through the engine's runtime interface (contracts/engine-rpc.ts).
//
//   const runtime = createRuntime({ namespace: "crawl", name: "crawler", queue: "CRAWLER_QUEUE", nodes: [...] });
//   export default runtime.worker;   // queue(), plus fetch `POST /register` and scheduled() that register
//
// The Worker binds the engine as ENGINE (a service binding to its RuntimeEntrypoint), or passes `engine`
// (e.g. `httpEngine` over HTTPS with the API key) when it cannot have the binding.
import type {
  EngineRpc,
  RegistrationAnswer,
  Report,
  RunCalls,
  RunRuntimeRpc,
  RuntimeEnv,
  RuntimeRegistration,
} from "../contracts";
import { type DispatchedState, parseDispatchMessage } from "../contracts/dispatch";
import { RUN_CALLS, type RunCallName } from "../contracts/engine-rpc";
import { parseStateId } from "../engine/ids";
import {
  EAGER_MAX_MS_PER_INVOCATION,
  EAGER_MAX_PER_REPORT,
  EAGER_MAX_STATES_PER_INVOCATION,
  NODE_SEEN_EVERY_MS,
  PICKUP_HEARTBEAT_MS,
  REPORT_PAGE_OUTPUTS,
} from "../engine/limits";
import { Throttle } from "../engine/throttle";
import { type AnyNode, assertValidNodes, nodeNameOf } from "./base-node";
import { type ExecuteOutcome, executeNode } from "./execute";
import { toRegisteredNode } from "./registration";

export type { RuntimeEnv };

export interface RuntimeOptions<E = RuntimeEnv> {
  namespace: string;
  name: string;
  nodes: AnyNode[];
  /**
   * The engine's queue producer binding for this runtime's queue (the `binding` of its
   * `[[queues.producers]]` entry in the engine's wrangler.toml): registration tells the engine to send
   * these nodes' ready states there.
   */
  queue: string;
  /** Node executions in flight at once inside one consumer batch. */
  concurrency?: number;
  /** How this Worker reaches the engine; default: the `ENGINE` service binding. */
  engine?: (env: E) => EngineRpc;
}

export interface Runtime<E = RuntimeEnv> {
  readonly namespace: string;
  readonly name: string;
  readonly queueBinding: string;
  /** The node serving `nodeName` in this runtime's namespace, if any. */
  node(namespace: string, nodeName: string): AnyNode | undefined;
  /** Every (namespace, node name) this runtime serves. */
  readonly served: readonly { ns: string; node: string }[];
  /** The queue() handler of the runtime Worker. */
  queue(batch: MessageBatch<unknown>, env: E): Promise<void>;
  /** What `register` sends: the nodes with their schemas, and this runtime's queue. */
  registration(options?: { keepOthers?: boolean }): RuntimeRegistration;
  /**
   * Registers the nodes with the engine as push nodes of this runtime's queue. Idempotent. With
   * `keepOthers`, nodes another runtime has registered since are left to it. Refused when the engine has
   * no queue binding of that name.
   */
  register(env: E, options?: { keepOthers?: boolean }): Promise<RegistrationAnswer>;
  /**
   * The Worker's handlers: `queue`; `fetch`, which answers `POST /register` by registering (leaving nodes
   * that another runtime took since, so a stray request cannot take them back) and 404 otherwise; and
   * `scheduled`, which registers the same way, for a cron trigger that keeps the registration current.
   */
  readonly worker: ExportedHandler<E>;
}

const DEFAULT_CONCURRENCY = 64;

/** The engine refused a registration (e.g. it has no queue binding of the name given); `detail` says why. */
export class RegistrationRefusedError extends Error {
  constructor(readonly detail: unknown) {
    super(
      `the engine refused the registration: ${typeof detail === "string" ? detail : JSON.stringify(detail)}`,
    );
    this.name = "RegistrationRefusedError";
  }
}

function bindingOf(env: unknown): EngineRpc {
  const engine = (env as RuntimeEnv | undefined)?.ENGINE;
  if (!engine) {
    throw new Error(
      "this runtime Worker has no ENGINE binding: add a service binding to the engine's RuntimeEntrypoint, or pass `engine` to createRuntime",
    );
  }
  return engine;
}

export function createRuntime<E = RuntimeEnv>(opts: RuntimeOptions<E>): Runtime<E> {
  assertValidNodes(opts.nodes);
  const byName = new Map(opts.nodes.map((n) => [nodeNameOf(n), n]));
  const engineOf = opts.engine ?? bindingOf;
  const runtime: Runtime<E> = {
    namespace: opts.namespace,
    name: opts.name,
    queueBinding: opts.queue,
    node: (namespace, nodeName) => (namespace === opts.namespace ? byName.get(nodeName) : undefined),
    served: [...byName.keys()].map((node) => ({ ns: opts.namespace, node })),
    queue: (batch, env) =>
      consume(batch, engineOf(env), pageSize(env), [runtime], opts.concurrency ?? DEFAULT_CONCURRENCY),
    registration: (options = {}) => ({
      namespace: opts.namespace,
      runtimeName: opts.name,
      queue: opts.queue,
      nodes: opts.nodes.map(toRegisteredNode),
      ...(options.keepOthers ? { keepOthers: true } : {}),
    }),
    async register(env, options = {}) {
      const answer = await engineOf(env).registerNodes(runtime.registration(options));
      if (!answer.ok) throw new RegistrationRefusedError(answer.error.detail);
      return answer.value;
    },
    worker: {
      queue: (batch, env) => runtime.queue(batch, env),
      async fetch(request, env) {
        const { pathname } = new URL(request.url);
        if (pathname !== "/register") return Response.json({ detail: "Not Found" }, { status: 404 });
        if (request.method !== "POST")
          return Response.json({ detail: "Method Not Allowed" }, { status: 405 });
        try {
          return Response.json(await runtime.register(env, { keepOthers: true }));
        } catch (e) {
          const detail = e instanceof Error ? e.message : String(e);
          return Response.json({ detail: `registration failed: ${detail}` }, { status: 502 });
        }
      },
      async scheduled(_controller, env) {
        await runtime.register(env, { keepOthers: true });
      },
    },
  };
  return runtime;
}

/**
 * The run calls of one actor as a RunRuntimeRpc, over the engine's interface: each method forwards to the
 * engine's method of the same name with the actor's name first. Generic over RUN_CALLS, so a method added
 * to RunRuntimeRpc needs nothing here.
 */
export function runActorVia(engine: RunCalls, actor: string): RunRuntimeRpc {
  // Called as a method of `engine` (an RPC stub has no `call` to bind a method with).
  const target = engine as unknown as Record<
    RunCallName,
    (actor: string, ...rest: unknown[]) => Promise<unknown>
  >;
  const calls: Record<string, (...args: unknown[]) => Promise<unknown>> = {};
  for (const method of RUN_CALLS) calls[method] = async (...args) => await target[method](actor, ...args);
  return calls as unknown as RunRuntimeRpc;
}

/**
 * The queue consumer: groups a batch by the actor each message names, executes each state's node, and
 * reports to each actor in one call (fan-outs in pages). A group whose report fails is retried as a whole.
 */
export async function consume(
  batch: MessageBatch<unknown>,
  engine: EngineRpc,
  perPage: number,
  runtimes: Pick<Runtime<never>, "node" | "served">[],
  concurrency: number,
): Promise<void> {
  // Messages of one run are reported together; a run whose report fails is retried as a whole.
  const byRun = new Map<string, { messages: Message<unknown>[]; states: DispatchedState[] }>();
  for (const message of batch.messages) {
    const parsed = parseDispatchMessage(message.body);
    if (!parsed.success) {
      // Not ours to execute, and redelivering will not make it valid.
      console.error("dropping malformed dispatch message", message.id);
      message.ack();
      continue;
    }
    const group = byRun.get(parsed.data.run) ?? { messages: [], states: [] };
    group.messages.push(message);
    group.states.push(...parsed.data.states);
    byRun.set(parsed.data.run, group);
  }
  const nodeFor = (ns: string, name: string) => {
    for (const r of runtimes) {
      const node = r.node(ns, name);
      if (node) return node;
    }
    return undefined;
  };
  const seen = new Map<string, Set<string>>();
  for (const { states } of byRun.values()) {
    for (const s of states) {
      if (!served.due(`${s.ns}\u0000${s.node}`)) continue;
      const names = seen.get(s.ns) ?? new Set<string>();
      names.add(s.node);
      seen.set(s.ns, names);
    }
  }
  const ctx: RunContext = {
    nodeFor,
    concurrency,
    perPage,
    served: runtimes.flatMap((r) => r.served),
    // Eager execution: what this invocation may still run from the answers to its reports.
    budget: { states: EAGER_MAX_STATES_PER_INVOCATION, until: Date.now() + EAGER_MAX_MS_PER_INVOCATION },
  };
  await Promise.all([
    ...[...seen].map(([ns, names]) => recordServed(engine, ns, [...names])),
    ...[...byRun].map(async ([runKey, group]) => {
      try {
        await runOne(runActorVia(engine, runKey), group.states, ctx);
        for (const m of group.messages) m.ack();
      } catch (e) {
        console.error(
          `reporting to run ${runKey} failed; retrying its messages`,
          e instanceof Error ? e.message : e,
        );
        for (const m of group.messages) m.retry();
      }
    }),
  ]);
}

/** When each node was last run by a consumer, for a waiting run to show (throttled per isolate). */
const served = new Throttle(NODE_SEEN_EVERY_MS);

async function recordServed(engine: EngineRpc, namespace: string, names: string[]): Promise<void> {
  try {
    await engine.nodesSeen(namespace, names);
  } catch (e) {
    // Only a hint for clients: the batch must not fail for it.
    console.error("recording served nodes failed", e instanceof Error ? e.message : e);
  }
}

function pageSize(env: unknown): number {
  const configured = Number((env as RuntimeEnv | undefined)?.REPORT_PAGE_OUTPUTS);
  return Number.isInteger(configured) && configured >= 1 ? configured : REPORT_PAGE_OUTPUTS;
}

interface RunContext {
  nodeFor: (ns: string, name: string) => AnyNode | undefined;
  concurrency: number;
  perPage: number;
  /** The nodes this consumer serves: what it asks for eagerly. */
  served: { ns: string; node: string }[];
  /** Shared by the invocation's runs: eager states it may still take, and until when it asks. */
  budget: { states: number; until: number };
}

type PerState = Record<number, Record<string, string>>;

const seqOf = (id: string) => parseStateId(id)?.seq ?? -1;
const deliveryOf = (s: DispatchedState) => ({ seq: seqOf(s.id), ...(s.d === undefined ? {} : { d: s.d }) });

/** Inputs that travelled by reference and declared secrets, fetched in one RPC each (when needed). */
async function extrasOf(run: RunRuntimeRpc, states: DispatchedState[]): Promise<[PerState, PerState]> {
  const byRef = states.filter((s) => s.inputs === undefined).map((s) => seqOf(s.id));
  const withSecrets = states.filter((s) => s.secrets).map((s) => seqOf(s.id));
  return Promise.all([
    byRef.length > 0 ? run.inputsOf(byRef) : {},
    withSecrets.length > 0 ? run.secretsOf(withSecrets) : {},
  ]);
}

async function runOne(run: RunRuntimeRpc, states: DispatchedState[], ctx: RunContext): Promise<void> {
  const deliveries = states.map(deliveryOf);
  // The pickup confirms the deliveries (two leases, design §6) and says which states are still to run: a
  // duplicate of a state already reported, or an old copy of one sent again, is not executed twice.
  const [live, [refInputs, secrets]] = await Promise.all([run.pickup(deliveries), extrasOf(run, states)]);
  const liveSeqs = new Set(live);
  let todo = states.filter((s) => liveSeqs.has(seqOf(s.id)));
  if (todo.length === 0) return;
  // While the batch runs, the heartbeat keeps confirming it, so a restarted engine does not send it again
  // (and an eager delivery keeps its lease).
  let held = deliveries.filter((x) => liveSeqs.has(x.seq));
  const heartbeat = setInterval(() => {
    run.pickup(held).catch(() => {}); // a missed heartbeat costs at most a duplicate execution
  }, PICKUP_HEARTBEAT_MS);
  try {
    let extras: [PerState, PerState] = [refInputs, secrets];
    // Eager execution: the answer to a report may hand back ready states of our nodes; run them now,
    // while the budget lasts, instead of waiting for their queue message.
    for (;;) {
      const eager = await executeAndReport(run, todo, extras, ctx);
      if (eager.length === 0) break;
      todo = eager;
      held = eager.map(deliveryOf);
      extras = await extrasOf(run, eager);
    }
  } finally {
    clearInterval(heartbeat);
  }
}

/** Executes the states and reports them; answers the ready states the report handed back to run eagerly. */
async function executeAndReport(
  run: RunRuntimeRpc,
  states: DispatchedState[],
  [refInputs, secrets]: [PerState, PerState],
  { nodeFor, concurrency, perPage, served, budget }: RunContext,
): Promise<DispatchedState[]> {
  const reports = await mapBounded(states, concurrency, async (s): Promise<Report> => {
    const seq = seqOf(s.id);
    const node = nodeFor(s.ns, s.node);
    const outcome: ExecuteOutcome = node
      ? await executeNode(node, s.inputs ?? refInputs[seq] ?? {}, secrets[seq] ?? {}, {
          stateId: s.id,
          ...(s.timeout === undefined ? {} : { timeoutMs: s.timeout * 1000 }),
          // A node that yields its outputs reports them a page at a time as they come (bounded memory).
          stream: { pageSize: perPage, onPage: (outputs, offset) => streamPage(run, seq, outputs, offset) },
        })
      : {
          type: "errored",
          error: `Node ${s.node} in namespace ${s.ns} is not served by this runtime Worker`,
        };
    return toReport(seq, outcome);
  });
  // Every report of the batch in one RPC, but a wide fan-out's outputs in pages of their own.
  const wide = reports.filter((r) => r.type === "executed" && r.outputs.length > perPage);
  const rest = reports.filter((r) => !wide.includes(r));
  let eager: DispatchedState[] = [];
  if (rest.length > 0) {
    const max = Math.min(EAGER_MAX_PER_REPORT, budget.states);
    if (max > 0 && Date.now() < budget.until) {
      eager = (await run.reportAndTake(rest, { nodes: served, max })).eager;
      budget.states -= eager.length;
    } else await run.report(rest);
  }
  for (const report of wide) await reportInPages(run, report, perPage);
  return eager;
}

/**
 * Reports one execution's outputs a page at a time, in order; each page is one RPC and one transaction.
 * If this invocation dies between pages, the queue delivers the message again and the pages are sent
 * again from the first: the ones already applied change nothing.
 */
export async function reportInPages(
  run: Pick<RunRuntimeRpc, "report">,
  report: Report,
  perPage: number,
): Promise<void> {
  if (report.type !== "executed") throw new Error("only an executed report has pages");
  const { outputs } = report;
  for (let offset = 0; offset < outputs.length; offset += perPage) {
    const page = { offset, more: offset + perPage < outputs.length };
    const [outcome] = await run.report([
      { type: "executed", seq: report.seq, outputs: outputs.slice(offset, offset + perPage), page },
    ]);
    if (outcome && !outcome.applied && outcome.reason === "page_gap") {
      throw new Error(
        `page at output ${offset} of state ${report.seq} was refused: an earlier page is missing`,
      );
    }
    // Any other refusal means the state moved on (finished, or ended by its lease): nothing more to send.
    if (outcome && !outcome.applied && outcome.reason !== "duplicate_page") return;
  }
}

/** One page of a streaming node's outputs, more to come; false when the engine refused it (moved on). */
async function streamPage(
  run: Pick<RunRuntimeRpc, "report">,
  seq: number,
  outputs: Record<string, string>[],
  offset: number,
): Promise<boolean> {
  const [outcome] = await run.report([{ type: "executed", seq, outputs, page: { offset, more: true } }]);
  return outcome?.applied === true || (outcome?.applied === false && outcome.reason === "duplicate_page");
}

export function toReport(seq: number, outcome: ExecuteOutcome): Report {
  switch (outcome.type) {
    case "executed":
      return outcome.page
        ? { type: "executed", seq, outputs: outcome.outputs, page: outcome.page }
        : { type: "executed", seq, outputs: outcome.outputs };
    case "errored":
      return { type: "errored", seq, error: outcome.error };
    case "pruned":
      return { type: "pruned", seq, data: outcome.data };
    case "requeue":
      return { type: "requeue", seq, delayMs: outcome.delayMs };
  }
}

async function mapBounded<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
