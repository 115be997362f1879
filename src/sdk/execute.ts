import type { z } from "zod";
import { MAX_JSON_DEPTH, valueNestsDeeperThan } from "../engine/limits";
import { timeoutError } from "../engine/run/control";
import type { OutputPage } from "../engine/run/types";
import { type AnyNode, nodeDefinitionProblems, nodeNameOf } from "./base-node";
import { isSignal } from "./signals";

/** What executing one state came to; each case maps to one runtime report (executed/errored/prune/re-enqueue). */
export type ExecuteOutcome =
  /** `page`: the last page of outputs streamed a page at a time (the earlier ones went to `onPage`). */
  | { type: "executed"; outputs: Record<string, string>[]; page?: OutputPage }
  | { type: "errored"; error: string }
  | { type: "pruned"; data: Record<string, unknown> }
  | { type: "requeue"; delayMs: number };

export interface ExecuteContext {
  stateId: string;
  runId?: string;
  /**
   * The node's `timeout_seconds` in ms (run control): past it the state is reported errored with a
   * timeout reason. JavaScript cannot stop a running promise: the node's work may go on in the
   * background, but its result is ignored.
   */
  timeoutMs?: number;
  /**
   * Streaming (push consumer): when the node returns a generator, every `pageSize` validated outputs are
   * handed to `onPage` (their offset given) as they come, and the outcome carries only the last page.
   * `onPage` answers false when the engine refused the page (the state moved on): the run then stops.
   * Without it, a generator's outputs are collected into one list.
   */
  stream?: {
    pageSize: number;
    onPage(outputs: Record<string, string>[], offset: number): Promise<boolean>;
  };
}

const REDACTED = "[redacted]";

/**
 * Runs one state through a node, as both the queue consumer and the pull runtime do: validates the inputs
 * against the node's schema, hands the node only the secrets it declares, runs `execute`, normalises the
 * result (nothing → no outputs, one → `[one]`, array → fan-out) and validates every output.
 *
 * Never throws and never rejects: every failure, including a broken node definition, becomes
 * `{type: "errored"}` with a message naming the node and field, so a consumer can always report the state.
 * Secret values never appear in an error: they are not quoted by our own messages, and any occurrence in a
 * message thrown by the node is replaced with `[redacted]`.
 */
export async function executeNode(
  node: AnyNode,
  rawInputs: Record<string, unknown>,
  rawSecrets: Record<string, string>,
  ctx: ExecuteContext,
): Promise<ExecuteOutcome> {
  const secretValues = Object.values(rawSecrets ?? {});
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const running = run(node, rawInputs, rawSecrets ?? {}, ctx);
    if (ctx.timeoutMs === undefined) return await running;
    const ms = ctx.timeoutMs;
    const timedOut = new Promise<ExecuteOutcome>((resolve) => {
      timer = setTimeout(() => resolve({ type: "errored", error: timeoutError(ms / 1000) }), ms);
    });
    return await Promise.race([running, timedOut]);
  } catch (thrown) {
    return { type: "errored", error: redact(messageOf(thrown), secretValues) };
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

async function run(
  node: AnyNode,
  rawInputs: Record<string, unknown>,
  rawSecrets: Record<string, string>,
  ctx: ExecuteContext,
): Promise<ExecuteOutcome> {
  const secretValues = Object.values(rawSecrets);
  const name = nodeNameOf(node);
  const problems = definitionProblems(node);
  if (problems.length > 0) return errored(`Node '${name}' cannot run: ${problems.join("; ")}`, secretValues);

  const inputs = node.inputs.safeParse(rawInputs);
  if (!inputs.success) {
    return errored(`Invalid inputs for node '${name}': ${describeIssues(inputs.error.issues)}`, secretValues);
  }

  const secrets = pickSecrets(node, rawSecrets);
  if (!secrets.ok) return errored(`Invalid secrets for node '${name}': ${secrets.problem}`, secretValues);

  let result: unknown;
  try {
    result = await node.execute(inputs.data, {
      secrets: secrets.value,
      stateId: ctx.stateId,
      ...(ctx.runId === undefined ? {} : { runId: ctx.runId }),
    });
  } catch (thrown) {
    if (isSignal(thrown)) {
      if (thrown.kind === "requeue") return { type: "requeue", delayMs: thrown.delayMs };
      // Nested past what an RPC can carry, it would fail the consumer's whole batch, again and again.
      if (valueNestsDeeperThan(thrown.data, MAX_JSON_DEPTH)) {
        return errored(
          `Prune data of node '${name}' nests deeper than ${MAX_JSON_DEPTH} levels`,
          secretValues,
        );
      }
      return { type: "pruned", data: thrown.data };
    }
    return errored(messageOf(thrown), secretValues);
  }

  if (isGenerated(result)) return outputsOf(node, result, ctx, secretValues);
  const items = result === undefined || result === null ? [] : Array.isArray(result) ? result : [result];
  const outputs: Record<string, string>[] = [];
  for (const [index, item] of items.entries()) {
    const output = node.outputs.safeParse(item);
    if (!output.success) {
      const which = items.length === 1 ? "the output" : `output ${index}`;
      return errored(
        `Invalid outputs from node '${name}': ${which}: ${describeIssues(output.error.issues)}`,
        secretValues,
      );
    }
    outputs.push(output.data as Record<string, string>);
  }
  return { type: "executed", outputs };
}

/** A generator's (or any non-array iterable's) outputs; a plain output object is not iterable. */
function isGenerated(result: unknown): result is Iterable<unknown> | AsyncIterable<unknown> {
  if (result === null || typeof result !== "object" || Array.isArray(result)) return false;
  return Symbol.asyncIterator in result || Symbol.iterator in result;
}

/**
 * Validates a generator's outputs as they come. With `ctx.stream`, full pages go to `onPage` one page
 * behind (so the last one, known only when the generator ends, is the outcome's); without it, they are
 * collected. A generator that throws, or an invalid output, errors the state (after pages were applied, the
 * engine ends the execution as a whole).
 */
async function outputsOf(
  node: AnyNode,
  generated: Iterable<unknown> | AsyncIterable<unknown>,
  ctx: ExecuteContext,
  secretValues: readonly string[],
): Promise<ExecuteOutcome> {
  const name = nodeNameOf(node);
  const stream = ctx.stream;
  let page: Record<string, string>[] = [];
  let offset = 0;
  let index = 0;
  try {
    for await (const item of generated as AsyncIterable<unknown>) {
      const output = node.outputs.safeParse(item);
      if (!output.success) {
        return errored(
          `Invalid outputs from node '${name}': output ${index}: ${describeIssues(output.error.issues)}`,
          secretValues,
        );
      }
      index += 1;
      if (stream && page.length === stream.pageSize) {
        if (!(await stream.onPage(page, offset))) {
          return errored(`Node '${name}' stopped: the engine refused its outputs at ${offset}`, secretValues);
        }
        offset += page.length;
        page = [];
      }
      page.push(output.data as Record<string, string>);
    }
  } catch (thrown) {
    // A signal before any output was handed out means what it means from `execute` itself.
    if (isSignal(thrown) && offset === 0 && thrown.kind === "requeue") {
      return { type: "requeue", delayMs: thrown.delayMs };
    }
    return errored(messageOf(thrown), secretValues);
  }
  return stream && offset > 0
    ? { type: "executed", outputs: page, page: { offset, more: false } }
    : { type: "executed", outputs: page };
}

// Definition checks build JSON Schemas, so they are done once per node instance, not once per state.
const checked = new WeakMap<AnyNode, string[]>();

function definitionProblems(node: AnyNode): string[] {
  let problems = checked.get(node);
  if (problems === undefined) {
    problems = nodeDefinitionProblems(node);
    checked.set(node, problems);
  }
  return problems;
}

type Picked = { ok: true; value: Record<string, string> } | { ok: false; problem: string };

/** Only the declared secrets, so a node never sees another node's credentials. */
function pickSecrets(node: AnyNode, rawSecrets: Record<string, string>): Picked {
  if (node.secrets === undefined) return { ok: true, value: {} };
  const declared: Record<string, unknown> = {};
  for (const key of Object.keys(node.secrets.shape)) {
    if (Object.hasOwn(rawSecrets, key)) declared[key] = rawSecrets[key];
  }
  const parsed = node.secrets.safeParse(declared);
  if (parsed.success) return { ok: true, value: parsed.data as Record<string, string> };
  // Built from field names and issue codes only: a validator's message could quote the secret's value.
  const problem = parsed.error.issues
    .map((issue) => {
      const field = issue.path.map(String).join(".");
      const missing = issue.code === "invalid_type" && declared[field] === undefined;
      return `secret '${field}' is ${missing ? "missing" : `invalid (${issue.code})`}`;
    })
    .join("; ");
  return { ok: false, problem };
}

function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .map((issue) =>
      issue.path.length === 0
        ? issue.message
        : `field '${issue.path.map(String).join(".")}': ${issue.message}`,
    )
    .join("; ");
}

function errored(message: string, secretValues: readonly string[]): ExecuteOutcome {
  return { type: "errored", error: redact(message, secretValues) };
}

function redact(message: string, secretValues: readonly string[]): string {
  // Longest first, so a secret that contains another is not left half-visible.
  const values = secretValues
    .filter((v) => typeof v === "string" && v !== "")
    .sort((a, b) => b.length - a.length);
  let out = message;
  for (const value of values) out = out.split(value).join(REDACTED);
  return out;
}

function messageOf(thrown: unknown): string {
  try {
    if (thrown instanceof Error) return thrown.message === "" ? thrown.name : thrown.message;
    if (typeof thrown === "string") return thrown;
    return JSON.stringify(thrown) ?? String(thrown);
  } catch {
    return "Node threw a value that cannot be turned into a message";
  }
}
