// Every operation of the HTTP API, described once: its path (as the route declares it), what it takes and
// what it answers, by reference to the zod schemas the routes validate with (requests) and that the tests
// check answers against (responses). document.ts turns this list into the OpenAPI document; a test checks
// that the list and the app's routes name the same operations, so a new route cannot go undocumented.
import type { z } from "zod";
import { MAX_GRAPH_PAGE_STATES, MAX_RUNS_PAGE, MAX_RUNS_PAGE_SIZE } from "../../engine/limits";
import { upsertGraphBodySchema } from "../../engine/template/request-schema";
import * as bodies from "../schemas/request-bodies";
import * as r from "../schemas/responses";

export type Method = "get" | "put" | "post";

export interface ParamSpec {
  type: "string" | "integer";
  description: string;
  minimum?: number;
  maximum?: number;
}

export interface ResponseSpec {
  description: string;
  /** A JSON body of this schema (one of `components`); absent: any JSON object, or a stream. */
  schema?: z.ZodType;
  /** Media type when the body is not JSON. */
  stream?: "text/event-stream";
}

export interface OperationSpec {
  method: Method;
  /** Exactly as the route declares it, with `:name` parameters. */
  path: string;
  operationId: string;
  tag: "meta" | "namespaces" | "nodes" | "graphs" | "runs" | "runtime" | "live";
  summary: string;
  description?: string;
  /** false: no API key needed. */
  auth?: false;
  /** Our extension, not in Exosphere's API. */
  extension?: true;
  /** Types of path parameters that are not plain strings. */
  pathTypes?: Record<string, ParamSpec>;
  query?: Record<string, ParamSpec>;
  body?: z.ZodType;
  responses: Record<number, ResponseSpec>;
}

/** The named schemas of the document (components.schemas), requests and responses. */
export const components: Record<string, z.ZodType> = {
  UpsertGraphRequest: upsertGraphBodySchema,
  TriggerRequest: bodies.triggerRequestSchema,
  RegisterNodesRequest: bodies.registerNodesBodySchema,
  EnqueueRequest: bodies.enqueueBodySchema,
  ExecutedRequest: bodies.executedBodySchema,
  ErroredRequest: bodies.erroredBodySchema,
  PruneRequest: bodies.pruneBodySchema,
  ReEnqueueAfterRequest: bodies.requeueBodySchema,
  ManualRetryRequest: bodies.manualRetryBodySchema,
  ErrorBody: r.ErrorBody,
  ValidationErrorBody: r.ValidationErrorBody,
  InternalErrorBody: r.InternalErrorBody,
  Health: r.Health,
  NamespacesList: r.NamespacesList,
  RegisteredNodes: r.RegisteredNodes,
  NodesList: r.NodesList,
  GraphTemplate: r.GraphTemplate,
  GraphTemplatesList: r.GraphTemplatesList,
  TriggerResult: r.TriggerResult,
  EnqueueResult: r.EnqueueResult,
  ExecutedResult: r.ExecutedResult,
  ErroredResult: r.ErroredResult,
  PruneResult: r.PruneResult,
  ReEnqueueAfterResult: r.RequeueResult,
  ManualRetryResult: r.ManualRetryResult,
  CancelRunResult: r.CancelRunResult,
  SecretsResult: r.SecretsResult,
  RunsPage: r.RunsPage,
  RunGraph: r.RunGraph,
  NodeDetails: r.NodeDetails,
  RunCosts: r.RunCosts,
  RunNodes: r.RunNodes,
  RuntimeReportRequest: bodies.runtimeCallBodySchemas.report,
  RuntimePickupRequest: bodies.runtimeCallBodySchemas.pickup,
  RuntimeReportAndTakeRequest: bodies.runtimeCallBodySchemas.reportAndTake,
  RuntimeNodesSeenRequest: bodies.runtimeCallBodySchemas.nodesSeen,
  RuntimePickupResult: r.RuntimePickupResult,
  RuntimeReportAndTakeResult: r.RuntimeReportAndTakeResult,
  RuntimeNodesSeenResult: r.RuntimeNodesSeenResult,
  RuntimeInputsOfRequest: bodies.runtimeCallBodySchemas.inputsOf,
  RuntimeSecretsOfRequest: bodies.runtimeCallBodySchemas.secretsOf,
  RuntimeRegisterNodesRequest: bodies.runtimeCallBodySchemas.registerNodes,
  RuntimeReportResult: r.RuntimeReportResult,
  RuntimePerStateResult: r.RuntimePerStateResult,
  RuntimeRegistrationResult: r.RuntimeRegistrationResult,
};

const notFound = (what: string): ResponseSpec => ({ description: `${what} not found`, schema: r.ErrorBody });
const refused = (why: string): ResponseSpec => ({ description: why, schema: r.ErrorBody });

const NS = "/v0/namespace/:namespace";
const STATE = `${NS}/state/:state_id`;
const RUN = `${NS}/states/run/:run_id`;

export const operations: OperationSpec[] = [
  {
    method: "get",
    path: "/health",
    operationId: "health",
    tag: "meta",
    summary: "Liveness",
    auth: false,
    responses: { 200: { description: "the engine answers", schema: r.Health } },
  },
  {
    method: "get",
    path: "/openapi.json",
    operationId: "openApiDocument",
    tag: "meta",
    summary: "This document",
    description: "Generated from the zod schemas the routes validate requests with.",
    auth: false,
    extension: true,
    responses: { 200: { description: "an OpenAPI 3.1 document" } },
  },
  {
    method: "get",
    path: "/v0/namespaces",
    operationId: "listNamespaces",
    tag: "namespaces",
    summary: "Namespaces that registered nodes, in ascending order",
    responses: { 200: { description: "the namespaces", schema: r.NamespacesList } },
  },
  {
    method: "put",
    path: `${NS}/nodes/`,
    operationId: "registerNodes",
    tag: "nodes",
    summary: "Register a runtime's nodes",
    description:
      "A node is served by whoever registered it last. `transport` (ours) is `queue` for push runtimes, " +
      "with `queue` naming the engine's queue binding for the runtime's queue (400 if the engine has none); " +
      "HTTP-polling runtimes omit both (`pull`).",
    body: bodies.registerNodesBodySchema,
    responses: { 200: { description: "registered", schema: r.RegisteredNodes } },
  },
  {
    method: "get",
    path: `${NS}/nodes/`,
    operationId: "listNodes",
    tag: "nodes",
    summary: "Registered nodes of a namespace",
    responses: { 200: { description: "the nodes", schema: r.NodesList } },
  },
  {
    method: "put",
    path: `${NS}/graph/:graph`,
    operationId: "upsertGraph",
    tag: "graphs",
    summary: "Create or replace a graph template",
    description:
      "Validated in full before the answer: the 201 already says VALID or INVALID. Secrets are encrypted " +
      "at rest and never returned.",
    body: upsertGraphBodySchema,
    responses: {
      201: { description: "stored (see validation_status)", schema: r.GraphTemplate },
      400: refused("the graph's structure is invalid (`Error validating graph template: …`)"),
    },
  },
  {
    method: "get",
    path: `${NS}/graph/:graph`,
    operationId: "getGraph",
    tag: "graphs",
    summary: "A graph template (secret names only)",
    responses: { 200: { description: "the template", schema: r.GraphTemplate }, 404: notFound("graph") },
  },
  {
    method: "get",
    path: `${NS}/graphs/`,
    operationId: "listGraphs",
    tag: "graphs",
    summary: "Graph templates of a namespace",
    responses: { 200: { description: "the templates", schema: r.GraphTemplatesList } },
  },
  {
    method: "post",
    path: `${NS}/graph/:graph/trigger`,
    operationId: "triggerGraph",
    tag: "runs",
    summary: "Start a run",
    body: bodies.triggerRequestSchema,
    responses: {
      200: { description: "the run was created", schema: r.TriggerResult },
      400: refused("the graph is not VALID, or a required store key is missing"),
      404: notFound("graph"),
    },
  },
  {
    method: "get",
    path: `${NS}/runs/:page/:size`,
    operationId: "listRuns",
    tag: "runs",
    summary: "A page of runs with their counts, newest first",
    pathTypes: {
      page: { type: "integer", description: "page number, from 1", minimum: 1, maximum: MAX_RUNS_PAGE },
      size: { type: "integer", description: "runs per page", minimum: 1, maximum: MAX_RUNS_PAGE_SIZE },
    },
    responses: { 200: { description: "the page", schema: r.RunsPage } },
  },
  {
    method: "get",
    path: `${RUN}/graph`,
    operationId: "getRunGraph",
    tag: "runs",
    summary: "A run's states and the edges between them",
    description:
      "`limit`, `cursor` and `identifier` are our extension for big runs: without them the answer is " +
      "Exosphere's (every state, up to the page bound).",
    query: {
      limit: {
        type: "integer",
        description: "states per answer",
        minimum: 1,
        maximum: MAX_GRAPH_PAGE_STATES,
      },
      cursor: { type: "string", description: "the `next_cursor` of the previous answer" },
      identifier: { type: "string", description: "only the states of this node" },
    },
    responses: { 200: { description: "the states", schema: r.RunGraph }, 404: notFound("run") },
  },
  {
    method: "post",
    path: `${RUN}/cancel`,
    operationId: "cancelRun",
    tag: "runs",
    extension: true,
    summary: "Cancel a run",
    description:
      "Its CREATED, QUEUED and EXECUTED states (its branch shards' too) become CANCELLED: nothing more is " +
      "dispatched or claimed, late reports are refused, no unite fires. Cancelling again answers the same.",
    responses: {
      200: { description: "the run is cancelled", schema: r.CancelRunResult },
      404: notFound("run"),
      409: refused("the run has already finished"),
    },
  },
  {
    method: "get",
    path: `${NS}/graph/:graph/run/:run_id/node/:node_id`,
    operationId: "getNodeRunDetails",
    tag: "runs",
    summary: "One state's inputs, outputs, error and parents",
    responses: {
      200: { description: "the state", schema: r.NodeDetails },
      400: refused("`Invalid node ID format: …`"),
      404: notFound("state"),
    },
  },
  {
    method: "get",
    path: `${RUN}/costs`,
    operationId: "getRunCosts",
    tag: "runs",
    summary: "A run's cost counters (RPCs, rows written, queue messages)",
    extension: true,
    responses: { 200: { description: "the counters", schema: r.RunCosts }, 404: notFound("run") },
  },
  {
    method: "get",
    path: `${RUN}/nodes`,
    operationId: "getRunNodes",
    tag: "live",
    summary: "A run's nodes, each with its states counted by status",
    description: "What a view of a run of any width shows: one line per node of the graph, not per state.",
    extension: true,
    responses: { 200: { description: "the run and its nodes", schema: r.RunNodes }, 404: notFound("run") },
  },
  {
    method: "get",
    path: `${RUN}/events`,
    operationId: "streamRunEvents",
    tag: "live",
    summary: "Server-sent events that follow a run until it stops",
    description:
      "`event: progress` carries a RunNodes object, sent when something changed (checked once a second); " +
      "`event: end` (data `{status}`) once the run is no longer PENDING, then the stream closes. A stream " +
      "that closes without `end` (it lasts at most ten minutes) is to be opened again. `event: error` " +
      "(data `{request_id}`) reports a failure on the engine's side. Send the API key in `x-api-key`: " +
      "read the stream with fetch, not EventSource, which cannot send headers.",
    extension: true,
    responses: {
      200: { description: "the stream", stream: "text/event-stream" },
      404: notFound("run"),
    },
  },
  {
    method: "post",
    path: `${NS}/states/enqueue`,
    operationId: "enqueueStates",
    tag: "runtime",
    summary: "A pull runtime claims ready states of its nodes",
    description:
      "When none is ready the request waits (long polling) up to `wait_ms`, our extension (default " +
      "`PULL_WAIT_MS`, 1 s; 0 answers at once, as Exosphere), and answers as soon as a state is offered.",
    body: bodies.enqueueBodySchema,
    responses: { 200: { description: "the claimed states, leased", schema: r.EnqueueResult } },
  },
  {
    method: "post",
    path: `${STATE}/executed`,
    operationId: "stateExecuted",
    tag: "runtime",
    summary: "Report a state's outputs (several: a fan-out)",
    body: bodies.executedBodySchema,
    responses: {
      200: { description: "applied", schema: r.ExecutedResult },
      400: refused("`State is not queued`: the report changes nothing"),
      404: notFound("state"),
      409: refused("a page that starts after the outputs received so far"),
    },
  },
  {
    method: "post",
    path: `${STATE}/errored`,
    operationId: "stateErrored",
    tag: "runtime",
    summary: "Report that a state failed (the retry policy decides what follows)",
    body: bodies.erroredBodySchema,
    responses: {
      200: { description: "applied", schema: r.ErroredResult },
      400: refused("the state is not queued, or already executed"),
      404: notFound("state"),
    },
  },
  {
    method: "post",
    path: `${STATE}/prune`,
    operationId: "statePrune",
    tag: "runtime",
    summary: "End a state's branch (PruneSignal)",
    body: bodies.pruneBodySchema,
    responses: {
      200: { description: "applied", schema: r.PruneResult },
      400: refused("`State is not queued`"),
      404: notFound("state"),
    },
  },
  {
    method: "post",
    path: `${STATE}/re-enqueue-after`,
    operationId: "stateReEnqueueAfter",
    tag: "runtime",
    summary: "Run a state again after a delay in ms (ReQueueAfterSignal)",
    body: bodies.requeueBodySchema,
    responses: {
      200: { description: "applied", schema: r.RequeueResult },
      404: notFound("state"),
      409: refused("the state is finished and cannot run again"),
    },
  },
  {
    method: "post",
    path: `${STATE}/manual-retry`,
    operationId: "stateManualRetry",
    tag: "runtime",
    summary: "Run a failed or pruned state again, as a new state",
    description: "Only ERRORED, NEXT_CREATED_ERROR or PRUNED states; `fanout_id` should be fresh per retry.",
    body: bodies.manualRetryBodySchema,
    responses: {
      200: { description: "the new state", schema: r.ManualRetryResult },
      404: notFound("state"),
      409: refused("the state's status does not allow a retry"),
    },
  },
  {
    method: "get",
    path: `${STATE}/secrets`,
    operationId: "stateSecrets",
    tag: "runtime",
    summary: "The secrets the state's node declared",
    responses: { 200: { description: "the secrets", schema: r.SecretsResult }, 404: notFound("state") },
  },
  // The runtime interface over HTTPS (contracts/engine-rpc.ts): what a runtime Worker behind a service
  // binding calls on the engine's RuntimeEntrypoint, for one that cannot have the binding.
  {
    method: "post",
    path: "/v0/runtime/report",
    operationId: "runtimeReport",
    tag: "runtime",
    extension: true,
    summary: "Report a batch of results to a run or branch-shard actor",
    description:
      "`args`: the actor's name (the `run` of the queue message), the reports, optionally the namespace. " +
      "One outcome per report; a state that moved on changes nothing.",
    body: bodies.runtimeCallBodySchemas.report,
    responses: { 200: { description: "one outcome per report", schema: r.RuntimeReportResult } },
  },
  {
    method: "post",
    path: "/v0/runtime/pickup",
    operationId: "runtimePickup",
    tag: "runtime",
    extension: true,
    summary: "Confirm the deliveries a consumer holds (at pickup, then as a heartbeat)",
    description:
      "`args`: the actor's name and the deliveries (`seq`, and `d` from the queue message). Answers the " +
      "seqs still to run: a state that finished, or was sent again since, is left out.",
    body: bodies.runtimeCallBodySchemas.pickup,
    responses: { 200: { description: "the seqs to run", schema: r.RuntimePickupResult } },
  },
  {
    method: "post",
    path: "/v0/runtime/reportAndTake",
    operationId: "runtimeReportAndTake",
    tag: "runtime",
    extension: true,
    summary: "Report a batch of results and take ready states of the consumer's nodes to run at once",
    description:
      "`args`: the actor's name, the reports, and `{nodes, max}`: the nodes the consumer serves and how " +
      "many ready states it would run now (eager execution; none when the engine has it off).",
    body: bodies.runtimeCallBodySchemas.reportAndTake,
    responses: {
      200: {
        description: "one outcome per report, and the states leased to the consumer",
        schema: r.RuntimeReportAndTakeResult,
      },
    },
  },
  {
    method: "post",
    path: "/v0/runtime/nodesSeen",
    operationId: "runtimeNodesSeen",
    tag: "runtime",
    extension: true,
    summary: "Record that a runtime served these nodes just now",
    description: "`args`: the namespace and the node names. Runtimes call it at most every few seconds.",
    body: bodies.runtimeCallBodySchemas.nodesSeen,
    responses: { 200: { description: "recorded", schema: r.RuntimeNodesSeenResult } },
  },
  {
    method: "post",
    path: "/v0/runtime/inputsOf",
    operationId: "runtimeInputsOf",
    tag: "runtime",
    extension: true,
    summary: "Inputs of states whose queue messages carried them by reference",
    description: "`args`: the actor's name and the states' seqs.",
    body: bodies.runtimeCallBodySchemas.inputsOf,
    responses: { 200: { description: "inputs per seq", schema: r.RuntimePerStateResult } },
  },
  {
    method: "post",
    path: "/v0/runtime/secretsOf",
    operationId: "runtimeSecretsOf",
    tag: "runtime",
    extension: true,
    summary: "For each state, exactly the secrets its node declared",
    description: "`args`: the actor's name, the states' seqs, optionally the namespace.",
    body: bodies.runtimeCallBodySchemas.secretsOf,
    responses: { 200: { description: "secrets per seq", schema: r.RuntimePerStateResult } },
  },
  {
    method: "post",
    path: "/v0/runtime/registerNodes",
    operationId: "runtimeRegisterNodes",
    tag: "runtime",
    extension: true,
    summary: "Register a push runtime's nodes for its queue",
    description: "`args`: the registration. 400 when the engine has no queue binding of the name given.",
    body: bodies.runtimeCallBodySchemas.registerNodes,
    responses: {
      200: { description: "registered", schema: r.RuntimeRegistrationResult },
      400: refused("the engine has no queue binding of that name"),
    },
  },
];
