// How the scripts reach a running engine: the --uri / --key options with their environment fallbacks,
// and a `fetch` for the project's client that turns every way a request can fail (engine down, wrong
// key, refused request, no answer) into a ScriptError whose one line says what to do.
import { oneLine, ScriptError } from "./cli.mjs";

/** The key `npm start` serves with when STATE_MANAGER_SECRET is not set (scripts/start.mjs). */
export const LOCAL_DEFAULT_KEY = "exoflare-local-key";
/**
 * The graph-secrets key `npm start` passes when SECRETS_ENCRYPTION_KEY is not set: public, so it protects
 * nothing, and for local development only (a deployed Worker without its own key refuses secrets). It is
 * SHA-256 of "exoflare local development secrets key - never use in a deployment", the key earlier
 * versions used implicitly, so secrets stored in an existing `.wrangler/state` still decrypt.
 */
export const LOCAL_SECRETS_KEY = "wGKevcEnuIAHz9thIeWP2eOilHT_e5aCgMXQJYYX6RM";
const LOCAL_URI = "http://127.0.0.1:8787";

/** Per request: generous for a trigger carrying megabytes, short of a hang. */
const REQUEST_TIMEOUT_MS = 120_000;

const fromEnv = (name) => (process.env[name] ? process.env[name] : undefined);

/** The --uri and --key options, for parseCli. */
export function connectionOptions() {
  return {
    uri: {
      type: "string",
      value: "URL",
      default: fromEnv("EXOSPHERE_STATE_MANAGER_URI") ?? LOCAL_URI,
      description: "the engine's base URL [env EXOSPHERE_STATE_MANAGER_URI]",
    },
    key: {
      type: "string",
      value: "KEY",
      default: fromEnv("EXOSPHERE_API_KEY") ?? fromEnv("STATE_MANAGER_SECRET") ?? LOCAL_DEFAULT_KEY,
      description: "the API key `npm start` prints [env EXOSPHERE_API_KEY, then STATE_MANAGER_SECRET]",
    },
  };
}

/** The --uri (or `flag`) value as a base URL without a trailing slash, or a usage error. */
export function checkUri(usage, uri, flag = "--uri") {
  let url;
  try {
    url = new URL(uri);
  } catch {
    return usage(`${flag} must be an http(s) URL such as ${LOCAL_URI}, not '${uri}'`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return usage(`${flag} must be an http(s) URL such as ${LOCAL_URI}, not '${uri}'`);
  }
  return uri.replace(/\/+$/, "");
}

/**
 * A fetch for the project's client (`new StateManager({ fetch })`, `new PullRuntime({ fetch })`).
 * Network failures, timeouts and 401 always become a ScriptError. With `refuseErrors`, so does every
 * other answer that is not 2xx, with its status and detail: for scripts whose every request must succeed.
 * A request for an event stream (`accept: text/event-stream`) is timed until its answer starts, and its
 * body is handed over as it streams.
 */
export function engineFetch({ uri, refuseErrors = false, timeoutMs = REQUEST_TIMEOUT_MS, flag = "--uri" }) {
  return async (request) => {
    const path = new URL(request.url).pathname;
    const what = `${request.method} ${path}`;
    if (request.headers.get("accept") === "text/event-stream") {
      const res = await streamingFetch(request, uri, what, timeoutMs, flag);
      if (res.status === 401) {
        await res.body?.cancel();
        throw refusedKey(uri);
      }
      if (res.ok || !refuseErrors) return res;
      throw new RefusedError(what, res.status, detailOf(await res.text()));
    }
    let res;
    let body;
    try {
      res = await fetch(request, { signal: AbortSignal.timeout(timeoutMs) });
      // Read here, under the same timeout, so that a stalled body is reported like a stalled answer.
      body = await res.arrayBuffer();
    } catch (e) {
      throw networkError(e, uri, what, timeoutMs, flag);
    }
    if (res.status === 401) throw refusedKey(uri);
    if (refuseErrors && (res.status < 200 || res.status > 299)) {
      throw new RefusedError(what, res.status, detailOf(new TextDecoder().decode(body)));
    }
    const noBody = [101, 204, 205, 304].includes(res.status);
    return new Response(noBody ? null : body, {
      status: res.status,
      statusText: res.statusText,
      headers: res.headers,
    });
  };
}

const refusedKey = (uri) =>
  new ScriptError(
    `the engine at ${uri} refused the API key (401): pass the key that \`npm start\` prints with --key, or set EXOSPHERE_API_KEY`,
  );

/** fetch, aborted if the answer has not started within `timeoutMs` (or when the request's signal aborts). */
async function streamingFetch(request, uri, what, timeoutMs, flag) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new DOMException("no answer", "TimeoutError")), timeoutMs);
  const signal = AbortSignal.any([controller.signal, request.signal]);
  try {
    return await fetch(request, { signal });
  } catch (e) {
    if (request.signal.aborted) throw e;
    throw networkError(controller.signal.aborted ? controller.signal.reason : e, uri, what, timeoutMs, flag);
  } finally {
    clearTimeout(timer);
  }
}

/** The nodes registered in `namespace` (`GET /v0/namespace/{ns}/nodes/`), for hints. */
export async function listNodes({ uri, key, namespace }) {
  const request = new Request(`${uri}/v0/namespace/${encodeURIComponent(namespace)}/nodes/`, {
    headers: { "x-api-key": key },
  });
  const res = await engineFetch({ uri, refuseErrors: true, timeoutMs: 10_000 })(request);
  return (await res.json()).nodes ?? [];
}

/** A request the engine answered with an error status; the message has the status and the detail. */
export class RefusedError extends ScriptError {
  constructor(what, status, detail) {
    super(`${what} was refused: ${status} ${detail}`);
    this.status = status;
    this.detail = detail;
  }
}

function networkError(e, uri, what, timeoutMs, flag = "--uri") {
  if (e instanceof Error && (e.name === "TimeoutError" || e.name === "AbortError")) {
    return new ScriptError(
      `the engine at ${uri} did not answer ${what} within ${timeoutMs / 1000} s: look for errors where it runs (\`npm start\`), or retry when it is less busy`,
    );
  }
  const cause = e instanceof Error ? e.cause : undefined;
  const code = cause?.code ?? cause?.errors?.[0]?.code;
  if (code === "ECONNREFUSED") {
    return new ScriptError(
      `cannot reach the engine at ${uri} (connection refused): start it with \`npm start\` in another terminal, or pass its address with ${flag}`,
    );
  }
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") {
    return new ScriptError(`cannot reach the engine at ${uri} (unknown host): check ${flag}`);
  }
  const reason =
    code ?? (cause instanceof Error ? cause.message : e instanceof Error ? e.message : String(e));
  return new ScriptError(
    `cannot reach the engine at ${uri} (${reason}): check ${flag} and that the engine is running`,
  );
}

/** The `detail` of an error body, in one line: a string as is, pydantic errors as `loc: msg; ...`. */
export function detailOf(text) {
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    return oneLine(text, 300) || "(empty body)";
  }
  const detail = json?.detail;
  if (typeof detail === "string") return oneLine(detail, 300);
  if (Array.isArray(detail)) {
    return oneLine(
      detail
        .map((d) => (Array.isArray(d?.loc) ? `${d.loc.join(".")}: ${d.msg}` : JSON.stringify(d)))
        .join("; "),
      300,
    );
  }
  return oneLine(text, 300);
}
