// A pull runtime for Node.js (or any JS runtime with fetch): the TypeScript counterpart of the Python
// SDK's `Runtime` (spec §5.2). It registers its nodes as pull nodes, polls `states/enqueue` while its
// local queue has room, executes states with bounded concurrency through the same `executeNode` as push
// runtimes, and reports every outcome over HTTP. Run it wherever the nodes need to run (a GPU box, a
// private network) against a deployed engine:
//
//   const runtime = new PullRuntime({ namespace: "examples", name: "gpu-box", nodes: [new MyNode()] });
//   await runtime.start();            // registers, then polls in the background
//   process.on("SIGINT", () => void runtime.stop());
import type { PulledState } from "../contracts";
import { MAX_PULL_WAIT_MS } from "../engine/limits";
import { type AnyNode, assertValidNodes, nodeNameOf } from "../sdk/base-node";
import { type ExecuteOutcome, executeNode } from "../sdk/execute";
import { toRegisteredNode } from "../sdk/registration";
import { Connection, type ConnectionOptions, readBody, segment } from "./http";

export interface PullRuntimeLogger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface PullRuntimeOptions extends ConnectionOptions {
  namespace: string;
  /** The runtime's name, recorded with its node registrations. */
  name: string;
  nodes: AnyNode[];
  /** States asked for per poll; the local queue holds at most about twice this many. Default 16. */
  batchSize?: number;
  /** States executed at once. Default 4. */
  workers?: number;
  /** Pause between polls (doubled after a failed poll). Default 1000 ms. */
  pollIntervalMs?: number;
  /**
   * How long the engine may hold a poll that finds nothing ready (`wait_ms`, long polling), 0 to
   * MAX_PULL_WAIT_MS. Default: the engine's own (`PULL_WAIT_MS`, 1 s). `stop()` lets an open poll finish.
   */
  pollWaitMs?: number;
  /** Attempts per report before it is given up (logged); the state's lease then retries it. Default 4. */
  reportAttempts?: number;
  logger?: PullRuntimeLogger;
}

const REPORT_BACKOFF_MS = 250;

export class PullRuntime {
  readonly namespace: string;
  readonly name: string;
  private readonly conn: Connection;
  private readonly nodes: AnyNode[];
  private readonly byName: Map<string, AnyNode>;
  private readonly batchSize: number;
  private readonly workers: number;
  private readonly pollIntervalMs: number;
  private readonly pollWaitMs: number | undefined;
  private readonly reportAttempts: number;
  private readonly log: PullRuntimeLogger;

  private running = false;
  private loops: Promise<void>[] = [];
  private stopping: Promise<void> | null = null;
  private readonly queue: PulledState[] = [];
  private idle: (() => void)[] = [];
  private wakePoller: (() => void) | null = null;
  private pollerWoken = false;

  constructor(opts: PullRuntimeOptions) {
    const batchSize = opts.batchSize ?? 16;
    const workers = opts.workers ?? 4;
    const pollIntervalMs = opts.pollIntervalMs ?? 1_000;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error("batchSize must be an integer ≥ 1");
    if (!Number.isInteger(workers) || workers < 1) throw new Error("workers must be an integer ≥ 1");
    if (!Number.isFinite(pollIntervalMs) || pollIntervalMs < 0) throw new Error("pollIntervalMs must be ≥ 0");
    const { pollWaitMs } = opts;
    if (
      pollWaitMs !== undefined &&
      (!Number.isInteger(pollWaitMs) || pollWaitMs < 0 || pollWaitMs > MAX_PULL_WAIT_MS)
    ) {
      throw new Error(`pollWaitMs must be an integer from 0 to ${MAX_PULL_WAIT_MS}`);
    }
    assertValidNodes(opts.nodes);
    this.namespace = opts.namespace;
    this.name = opts.name;
    this.conn = new Connection(opts.namespace, opts);
    this.nodes = opts.nodes;
    this.byName = new Map(opts.nodes.map((n) => [nodeNameOf(n), n]));
    this.batchSize = batchSize;
    this.workers = workers;
    this.pollIntervalMs = pollIntervalMs;
    this.pollWaitMs = pollWaitMs;
    this.reportAttempts = Math.max(1, opts.reportAttempts ?? 4);
    this.log = opts.logger ?? console;
  }

  get isRunning(): boolean {
    return this.running;
  }

  /** Registers the nodes (rejects if that fails), then polls and executes in the background. */
  async start(): Promise<void> {
    if (this.running || this.stopping) throw new Error("PullRuntime was already started");
    await this.register();
    this.running = true;
    this.loops = [this.pollLoop(), ...Array.from({ length: this.workers }, () => this.workLoop())];
  }

  /**
   * Stops polling and resolves once every state being executed has been reported. States claimed but not
   * started yet are handed back (re-enqueued after 1 ms) so they run again at once, elsewhere, instead of
   * waiting for their lease to expire and spending a retry.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.running = false;
      this.wakeAll();
      await Promise.all(this.loops);
      const unstarted = this.queue.splice(0);
      await Promise.all(
        unstarted.map((s) => this.send(s.state_id, "re-enqueue-after", { enqueue_after: 1 })),
      );
    })();
    return this.stopping;
  }

  /**
   * Registers the nodes as pull nodes without polling (`start` does this first). Useful before upserting
   * a graph that names them, since a graph validates only against registered nodes.
   */
  async register(): Promise<void> {
    const res = await this.conn.request("PUT", "/nodes/", {
      runtime_name: this.name,
      runtime_namespace: this.namespace,
      // Explicit: registering switches a node to the transport of whoever registered it last.
      transport: "pull",
      nodes: this.nodes.map((n) => ({
        ...toRegisteredNode(n),
        namespace: this.namespace,
        transport: "pull",
      })),
    });
    const body = await readBody(res);
    if (res.status !== 200) throw new Error(`Failed to register nodes: ${res.status} ${body.text}`);
  }

  private async pollLoop(): Promise<void> {
    while (this.running) {
      let pause = this.pollIntervalMs;
      if (this.queue.length < this.batchSize) {
        try {
          const states = await this.enqueue();
          this.queue.push(...states);
          this.wakeWorkers();
          // A full batch suggests more is waiting: ask again at once if there is room.
          if (states.length >= this.batchSize && this.queue.length < this.batchSize) pause = 0;
        } catch (e) {
          this.log.error(`[${this.name}] polling failed: ${messageOf(e)}`);
          pause = 2 * this.pollIntervalMs;
        }
      }
      await this.pause(pause);
    }
  }

  private async enqueue(): Promise<PulledState[]> {
    const res = await this.conn.request("POST", "/states/enqueue", {
      nodes: [...this.byName.keys()],
      batch_size: this.batchSize,
      ...(this.pollWaitMs === undefined ? {} : { wait_ms: this.pollWaitMs }),
    });
    const body = await readBody(res);
    if (res.status !== 200) throw new Error(`enqueue answered ${res.status} ${body.text}`);
    const states = (body.json as { states?: unknown } | undefined)?.states;
    return Array.isArray(states) ? (states as PulledState[]) : [];
  }

  private async workLoop(): Promise<void> {
    while (this.running) {
      const state = this.queue.shift();
      if (state === undefined) {
        await new Promise<void>((resolve) => this.idle.push(resolve));
        continue;
      }
      if (this.queue.length < this.batchSize) this.poke();
      try {
        await this.process(state);
      } catch (e) {
        // `process` reports every outcome itself; this only guards the loop against a bug there.
        this.log.error(`[${this.name}] state ${state.state_id} failed outside its node: ${messageOf(e)}`);
      }
    }
  }

  private async process(state: PulledState): Promise<void> {
    const node = this.byName.get(state.node_name);
    let outcome: ExecuteOutcome;
    if (node === undefined) {
      outcome = { type: "errored", error: `Node ${state.node_name} is not served by runtime ${this.name}` };
    } else {
      const secrets = declaresSecrets(node) ? await this.secrets(state.state_id) : {};
      outcome = await executeNode(node, state.inputs ?? {}, secrets, { stateId: state.state_id });
    }
    switch (outcome.type) {
      case "executed":
        return this.send(state.state_id, "executed", { outputs: outcome.outputs });
      case "errored":
        return this.send(state.state_id, "errored", { error: outcome.error });
      case "pruned":
        return this.send(state.state_id, "prune", { data: outcome.data });
      case "requeue":
        return this.send(state.state_id, "re-enqueue-after", { enqueue_after: outcome.delayMs });
    }
  }

  /** The state's declared secrets; on failure none, so the node reports a missing secret as its error. */
  private async secrets(stateId: string): Promise<Record<string, string>> {
    const res = await this.withRetries(`secrets of ${stateId}`, () =>
      this.conn.request("GET", `/state/${segment(stateId)}/secrets`),
    );
    if (res === null || res.status !== 200) return {};
    const body = await readBody(res);
    const secrets = (body.json as { secrets?: unknown } | undefined)?.secrets;
    return typeof secrets === "object" && secrets !== null ? (secrets as Record<string, string>) : {};
  }

  /** Posts one report; never throws. A 4xx means the state moved on (e.g. its lease expired): logged. */
  private async send(stateId: string, route: string, body: unknown): Promise<void> {
    const res = await this.withRetries(`${route} report of ${stateId}`, () =>
      this.conn.request("POST", `/state/${segment(stateId)}/${route}`, body),
    );
    if (res === null) return;
    if (res.status !== 200) {
      const text = (await readBody(res)).text;
      this.log.warn(`[${this.name}] ${route} report of ${stateId} refused: ${res.status} ${text}`);
    }
  }

  /**
   * Runs `call` until it answers something other than a network failure, 429 or 5xx, at most
   * `reportAttempts` times with doubling pauses; null when every attempt failed (logged).
   */
  private async withRetries(what: string, call: () => Promise<Response>): Promise<Response | null> {
    for (let attempt = 1; ; attempt++) {
      let problem: string;
      try {
        const res = await call();
        if (res.status !== 429 && res.status < 500) return res;
        problem = `${res.status} ${(await readBody(res)).text}`;
      } catch (e) {
        problem = messageOf(e);
      }
      if (attempt >= this.reportAttempts) {
        this.log.error(`[${this.name}] ${what} failed after ${attempt} attempts: ${problem}`);
        return null;
      }
      this.log.warn(`[${this.name}] ${what} failed (attempt ${attempt}), retrying: ${problem}`);
      await new Promise((resolve) => setTimeout(resolve, REPORT_BACKOFF_MS * 2 ** (attempt - 1)));
    }
  }

  /** Sleeps `ms`, or less when a worker makes room in the queue or the runtime stops. */
  private pause(ms: number): Promise<void> {
    if (this.pollerWoken || !this.running || ms <= 0) {
      this.pollerWoken = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(timer);
        self.wakePoller = null;
        self.pollerWoken = false;
        resolve();
      }
      this.wakePoller = done;
    });
  }

  private poke(): void {
    if (this.wakePoller) this.wakePoller();
    else this.pollerWoken = true;
  }

  private wakeWorkers(): void {
    const waiting = this.idle.splice(0);
    for (const resolve of waiting) resolve();
  }

  private wakeAll(): void {
    this.wakeWorkers();
    this.poke();
  }
}

function declaresSecrets(node: AnyNode): boolean {
  return node.secrets !== undefined && Object.keys(node.secrets.shape).length > 0;
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
