import { expect } from "vitest";
import { json, triggerRun } from "./http";

export { runStub, upsertValid } from "./http";

export interface PullNodeSpec {
  name: string;
  inputs?: string[];
  outputs?: string[];
  secrets?: string[];
}

/** Pydantic's `model_json_schema()` of a model whose fields are all `str`. */
export function pydanticSchema(title: "Inputs" | "Outputs", fields: string[]) {
  const properties = Object.fromEntries(
    fields.map((f) => [f, { title: f.charAt(0).toUpperCase() + f.slice(1), type: "string" }]),
  );
  return fields.length > 0
    ? { properties, required: fields, title, type: "object" }
    : { properties, title, type: "object" };
}

/** `PUT /nodes/` exactly as the Python runtime sends it (no transport field: pull). */
export async function registerPull(ns: string, nodes: PullNodeSpec[], runtime = "py-runtime") {
  const res = await json("PUT", `/v0/namespace/${ns}/nodes/`, {
    runtime_name: runtime,
    runtime_namespace: ns,
    nodes: nodes.map((n) => ({
      name: n.name,
      namespace: ns,
      inputs_schema: pydanticSchema("Inputs", n.inputs ?? []),
      outputs_schema: pydanticSchema("Outputs", n.outputs ?? []),
      secrets: n.secrets ?? [],
    })),
  });
  expect(res.status).toBe(200);
}

export interface GraphNode {
  node_name: string;
  namespace: string;
  identifier: string;
  inputs: Record<string, string>;
  next_nodes: string[] | null;
  unites: null | { identifier: string; strategy: string };
}

export const node = (
  ns: string,
  nodeName: string,
  identifier: string,
  inputs: Record<string, string> = {},
  next: string[] | null = null,
): GraphNode => ({ node_name: nodeName, namespace: ns, identifier, inputs, next_nodes: next, unites: null });

/** Triggers with the body the Python SDK sends by default. */
export const trigger = (
  ns: string,
  graph: string,
  body: Record<string, unknown> = { start_delay: 0, inputs: {}, store: {} },
): Promise<string> => triggerRun(ns, graph, body);

export interface Pulled {
  state_id: string;
  node_name: string;
  identifier: string;
  inputs: Record<string, string>;
  created_at: string;
}

/**
 * One `states/enqueue`. It answers at once by default (`wait_ms: 0`): these tests are about what a poll
 * claims; the long-poll wait has its own tests and passes `waitMs`.
 */
export async function enqueue(ns: string, nodes: string[], batchSize: number, waitMs = 0): Promise<Pulled[]> {
  const res = await json<{ count: number; namespace: string; status: string; states: Pulled[] }>(
    "POST",
    `/v0/namespace/${ns}/states/enqueue`,
    { nodes, batch_size: batchSize, wait_ms: waitMs },
  );
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({ namespace: ns, status: "QUEUED", count: res.body.states.length });
  return res.body.states;
}

export interface ViewNode {
  id: string;
  identifier: string;
  node_name: string;
  status: string;
}

/** The states of `runId` that live in `ns`, from the run-graph route. */
export async function statesOf(ns: string, runId: string): Promise<ViewNode[]> {
  const res = await json<{ nodes: ViewNode[] }>("GET", `/v0/namespace/${ns}/states/run/${runId}/graph`);
  expect(res.status).toBe(200);
  return res.body.nodes;
}

export async function stateDetails(ns: string, graph: string, runId: string, stateId: string) {
  const res = await json<{
    status: string;
    inputs: Record<string, string>;
    outputs: Record<string, string>;
    error: string | null;
  }>("GET", `/v0/namespace/${ns}/graph/${graph}/run/${runId}/node/${stateId}`);
  expect(res.status).toBe(200);
  return res.body;
}

export const report = (ns: string, stateId: string, route: string, body: unknown) =>
  json("POST", `/v0/namespace/${ns}/state/${stateId}/${route}`, body);
