// @ts-check
// The engine's HTTP API as the page uses it. The API key lives in sessionStorage (this tab only, gone when
// it closes) and travels in the `x-api-key` header: never in a URL, never logged.

const KEY_ITEM = "exoflare.apiKey";

export const savedKey = () => sessionStorage.getItem(KEY_ITEM);
/** @param {string} key */
export const saveKey = (key) => sessionStorage.setItem(KEY_ITEM, key);
export const forgetKey = () => sessionStorage.removeItem(KEY_ITEM);

/** A refusal or failure, with the engine's status and its detail in one line. */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} detail
   */
  constructor(status, detail) {
    super(status === 0 ? detail : `${status}: ${detail}`);
    this.status = status;
    this.detail = detail;
  }
}

/** @param {unknown} body */
function detailOf(body) {
  const detail = body && typeof body === "object" && "detail" in body ? body.detail : body;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail
      .map((d) => (d && Array.isArray(d.loc) ? `${d.loc.join(".")}: ${d.msg}` : JSON.stringify(d)))
      .join("; ");
  }
  return JSON.stringify(detail);
}

/** @param {string} segment */
export const seg = (segment) => encodeURIComponent(segment);

/**
 * One request to the engine that serves this page.
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @param {{ signal?: AbortSignal, accept?: string }} [options]
 * @returns {Promise<Response>}
 */
async function send(method, path, body, options = {}) {
  /** @type {Record<string, string>} */
  const headers = { "x-api-key": savedKey() ?? "", accept: options.accept ?? "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: options.signal,
    });
  } catch (e) {
    if (e instanceof DOMException && e.name === "AbortError") throw e;
    throw new ApiError(0, "the engine did not answer: is it running?");
  }
  if (!res.ok) {
    let detail = res.statusText;
    try {
      detail = detailOf(await res.json());
    } catch {
      // not JSON: keep the status text
    }
    throw new ApiError(res.status, detail);
  }
  return res;
}

/**
 * @param {string} path
 * @param {{ signal?: AbortSignal }} [options]
 * @returns {Promise<any>}
 */
export async function get(path, options) {
  return (await send("GET", path, undefined, options)).json();
}

/**
 * @param {string} path
 * @param {unknown} [body]
 * @returns {Promise<any>}
 */
export async function post(path, body) {
  return (await send("POST", path, body)).json();
}

/**
 * The server-sent events of `path`, read with fetch (EventSource cannot send the key), until the stream
 * ends or `signal` aborts.
 * @param {string} path
 * @param {AbortSignal} signal
 * @returns {AsyncGenerator<{ event: string, data: string }>}
 */
export async function* events(path, signal) {
  const res = await send("GET", path, undefined, { signal, accept: "text/event-stream" });
  if (!res.body) return;
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let event = "";
  /** @type {string[]} */
  let data = [];
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      buffer += value;
      const lines = buffer.split("\n");
      buffer = lines.pop() ?? "";
      for (const raw of lines) {
        const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
        if (line === "") {
          if (data.length > 0) yield { event: event || "message", data: data.join("\n") };
          event = "";
          data = [];
        } else if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}

/** @type {Promise<Set<string>> | undefined} */
let documented;
/**
 * Whether the engine's OpenAPI document lists this operation: how the page learns what the engine it
 * talks to can do (e.g. cancel a run) without guessing.
 * @param {"get" | "post" | "put"} method
 * @param {string} path an OpenAPI path, e.g. "/v0/namespace/{namespace}/states/run/{run_id}/cancel"
 */
export async function hasOperation(method, path) {
  documented ??= fetch("/openapi.json")
    .then((r) => (r.ok ? r.json() : { paths: {} }))
    .then(
      (doc) =>
        new Set(
          Object.entries(doc.paths ?? {}).flatMap(([p, ops]) =>
            Object.keys(ops ?? {}).map((m) => `${m} ${p}`),
          ),
        ),
    )
    .catch(() => new Set());
  return (await documented).has(`${method} ${path}`);
}
