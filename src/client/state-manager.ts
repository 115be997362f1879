// The TypeScript counterpart of the Python SDK's `StateManager` (spec §5.3): trigger runs, upsert graph
// templates (waiting for validation to leave PENDING) and read them back, with the same requests and the
// same error messages; plus what the SDK lacks: reading runs (a page, a run's states, its nodes, live),
// retrying a state and cancelling a run.
import type { CronTrigger, RunNodesView } from "../contracts";
import { Connection, type ConnectionOptions, readBody, segment } from "./http";
import { readEvents } from "./sse";

export interface UnitesModel {
  identifier: string;
  /** "ALL_SUCCESS" (default) or "ALL_DONE"; the server validates it. */
  strategy?: string;
}

/** One node of a graph template (the Python SDK's `GraphNodeModel`). */
export interface GraphNodeModel {
  node_name: string;
  namespace: string;
  identifier: string;
  inputs?: Record<string, string>;
  next_nodes?: string[] | null;
  unites?: UnitesModel | null;
}

export interface RetryPolicyModel {
  max_retries?: number;
  strategy?: string;
  backoff_factor?: number;
  exponent?: number;
  max_delay?: number | null;
}

export interface StoreConfigModel {
  required_keys?: string[];
  default_values?: Record<string, string>;
}

export interface TriggerOptions {
  inputs?: Record<string, string>;
  store?: Record<string, string>;
  /** Milliseconds before the first state may run. */
  startDelay?: number;
  /**
   * Ours: wait up to this many milliseconds (at most 20,000) for the run to end; the answer's `run_status`
   * is then its status (PENDING if the wait ran out first).
   */
  waitMs?: number;
}

export interface TriggerAnswer {
  status: string;
  run_id: string;
  warnings?: string[];
  /** With `waitMs`: the run's status when the engine answered. */
  run_status?: "SUCCESS" | "FAILED" | "CANCELLED" | "PENDING";
}

export interface UpsertGraphOptions {
  secrets?: Record<string, string>;
  retryPolicy?: RetryPolicyModel;
  storeConfig?: StoreConfigModel;
  /** Cron triggers by expression (the Python SDK's `CronTrigger(expression=...)`), e.g. `"0 * * * *"`. */
  triggers?: CronTrigger["value"][];
  /** How long to wait for validation to leave PENDING (default 60 s). */
  validationTimeoutMs?: number;
  /** Delay between validation polls (default 1 s). */
  pollIntervalMs?: number;
}

export interface GraphTemplateView {
  validation_status: "PENDING" | "VALID" | "INVALID" | string;
  validation_errors: string[];
  [field: string]: unknown;
}

export interface StateManagerOptions extends ConnectionOptions {
  namespace: string;
}

export class StateManager {
  readonly namespace: string;
  private readonly conn: Connection;

  constructor(opts: StateManagerOptions) {
    this.namespace = opts.namespace;
    this.conn = new Connection(opts.namespace, opts);
  }

  /** Starts a run; answers `{status: "CREATED", run_id}`. Anything but 200 throws, as in the Python SDK. */
  async trigger(graph: string, opts: TriggerOptions = {}): Promise<TriggerAnswer> {
    const res = await this.conn.request("POST", `/graph/${segment(graph)}/trigger`, {
      start_delay: opts.startDelay ?? 0,
      inputs: opts.inputs ?? {},
      store: opts.store ?? {},
      ...(opts.waitMs === undefined ? {} : { wait_ms: opts.waitMs }),
    });
    const body = await readBody(res);
    if (res.status !== 200) throw new Error(`Failed to trigger state: ${res.status} ${body.text}`);
    return body.json as TriggerAnswer;
  }

  async getGraph(graph: string): Promise<GraphTemplateView> {
    const res = await this.conn.request("GET", `/graph/${segment(graph)}`);
    const body = await readBody(res);
    if (res.status !== 200) throw new Error(`Failed to get graph: ${res.status} ${body.text}`);
    return body.json as GraphTemplateView;
  }

  /**
   * Creates or replaces a graph template, then polls it while its validation is PENDING. Throws when the
   * upsert is refused, when validation does not finish in time, or when it ends anything but VALID.
   */
  async upsertGraph(
    graph: string,
    nodes: GraphNodeModel[],
    opts: UpsertGraphOptions = {},
  ): Promise<GraphTemplateView> {
    const body: Record<string, unknown> = {
      secrets: opts.secrets ?? {},
      // Sent as the Python SDK's model_dump() does: every field, nulls included.
      nodes: nodes.map((n) => ({
        node_name: n.node_name,
        namespace: n.namespace,
        identifier: n.identifier,
        inputs: n.inputs ?? {},
        next_nodes: n.next_nodes ?? null,
        unites: n.unites
          ? { identifier: n.unites.identifier, strategy: n.unites.strategy ?? "ALL_SUCCESS" }
          : null,
      })),
    };
    if (opts.retryPolicy) body.retry_policy = opts.retryPolicy;
    if (opts.storeConfig) body.store_config = opts.storeConfig;
    if (opts.triggers) {
      body.triggers = opts.triggers.map((t) => ({ type: "CRON", value: { expression: t.expression } }));
    }
    const res = await this.conn.request("PUT", `/graph/${segment(graph)}`, body);
    const read = await readBody(res);
    if (res.status !== 200 && res.status !== 201) {
      throw new Error(`Failed to upsert graph: ${res.status} ${read.text}`);
    }
    let view = read.json as GraphTemplateView;
    const timeoutMs = opts.validationTimeoutMs ?? 60_000;
    const pollMs = opts.pollIntervalMs ?? 1_000;
    const deadline = Date.now() + timeoutMs;
    while (view.validation_status === "PENDING") {
      if (Date.now() >= deadline) {
        throw new Error(`Graph validation check timed out after ${timeoutMs / 1000} seconds`);
      }
      await new Promise((resolve) => setTimeout(resolve, pollMs));
      view = await this.getGraph(graph);
    }
    if (view.validation_status !== "VALID") {
      throw new Error(
        `Graph validation failed: ${view.validation_status} and errors: ${JSON.stringify(view.validation_errors)}`,
      );
    }
    return view;
  }

  /** One page of this namespace's runs with their counts (newest first). */
  async runs(page = 1, size = 20): Promise<RunsPage> {
    const res = await this.conn.request("GET", `/runs/${page}/${size}`);
    const body = await readBody(res);
    if (res.status !== 200) throw new Error(`Failed to list runs: ${res.status} ${body.text}`);
    return body.json as RunsPage;
  }

  /**
   * The state graph of one run (its states and the edges between them); with `page`, only `limit` states
   * after `cursor` (a previous answer's `next_cursor`), only those of node `identifier` when given.
   */
  async runGraph(
    runId: string,
    page: { identifier?: string; limit?: number; cursor?: string } = {},
  ): Promise<Record<string, unknown>> {
    const query = new URLSearchParams();
    if (page.identifier !== undefined) query.set("identifier", page.identifier);
    if (page.limit !== undefined) query.set("limit", String(page.limit));
    if (page.cursor !== undefined) query.set("cursor", page.cursor);
    const suffix = query.toString() === "" ? "" : `?${query}`;
    const res = await this.conn.request("GET", `/states/run/${segment(runId)}/graph${suffix}`);
    const body = await readBody(res);
    if (res.status !== 200) throw new Error(`Failed to get run graph: ${res.status} ${body.text}`);
    return body.json as Record<string, unknown>;
  }

  /** A run's nodes, each with its states counted by status, and the run's counts (our extension). */
  async runNodes(runId: string): Promise<RunNodesView> {
    const res = await this.conn.request("GET", `/states/run/${segment(runId)}/nodes`);
    const body = await readBody(res);
    if (res.status !== 200) throw new Error(`Failed to get run nodes: ${res.status} ${body.text}`);
    return body.json as RunNodesView;
  }

  /**
   * The run's view each time it changes (the engine checks about once a second), until the run stops
   * (its last view is the last one yielded). A stream the engine closes early is opened again after
   * `reconnectMs`. Stop earlier by breaking out of the loop or with `signal`.
   */
  async *followRun(
    runId: string,
    opts: { signal?: AbortSignal; reconnectMs?: number } = {},
  ): AsyncGenerator<RunNodesView> {
    for (;;) {
      const res = await this.conn.request("GET", `/states/run/${segment(runId)}/events`, undefined, {
        accept: "text/event-stream",
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      if (res.status !== 200 || res.body === null) {
        const body = await readBody(res);
        throw new Error(`Failed to follow run: ${res.status} ${body.text}`);
      }
      for await (const event of readEvents(res.body)) {
        if (event.event === "progress") yield JSON.parse(event.data) as RunNodesView;
        else if (event.event === "end") return;
        else if (event.event === "error") break;
      }
      await pause(opts.reconnectMs ?? 1_000, opts.signal);
    }
  }

  /**
   * Runs a failed (ERRORED, NEXT_CREATED_ERROR) or pruned state again, as a new state; answers its id.
   * `fanoutId` names this retry (a fresh one by default).
   */
  async manualRetry(stateId: string, fanoutId: string = crypto.randomUUID()): Promise<{ id: string }> {
    const res = await this.conn.request("POST", `/state/${segment(stateId)}/manual-retry`, {
      fanout_id: fanoutId,
    });
    const body = await readBody(res);
    if (res.status !== 200) throw new Error(`Failed to retry state: ${res.status} ${body.text}`);
    return body.json as { id: string };
  }

  /** Cancels a run (`POST .../states/run/{id}/cancel`); answers the engine's `{run_id, status}`. */
  async cancelRun(runId: string): Promise<{ run_id: string; status: "CANCELLED" }> {
    const res = await this.conn.request("POST", `/states/run/${segment(runId)}/cancel`);
    const body = await readBody(res);
    // 404: no such run in this namespace; 409: it finished before it could be cancelled.
    if (res.status !== 200) throw new Error(`Failed to cancel run: ${res.status} ${body.text}`);
    return body.json as { run_id: string; status: "CANCELLED" };
  }

  /** One state's details: inputs, outputs, error, parents (spec §2.18). */
  async stateDetails(graph: string, runId: string, stateId: string): Promise<Record<string, unknown>> {
    const res = await this.conn.request(
      "GET",
      `/graph/${segment(graph)}/run/${segment(runId)}/node/${segment(stateId)}`,
    );
    const body = await readBody(res);
    if (res.status !== 200) throw new Error(`Failed to get state details: ${res.status} ${body.text}`);
    return body.json as Record<string, unknown>;
  }
}

export interface RunListing {
  run_id: string;
  graph_name: string;
  success_count: number;
  pending_count: number;
  errored_count: number;
  retried_count: number;
  total_count: number;
  status: "PENDING" | "SUCCESS" | "FAILED" | string;
  created_at: string;
}

export interface RunsPage {
  namespace: string;
  total: number;
  page: number;
  size: number;
  runs: RunListing[];
}

/** Waits `ms`, or less when `signal` aborts (then the caller's next request rejects with the abort). */
function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}
