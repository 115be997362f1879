// What the clients share: where the state manager is, how to call it, and Node's environment fallbacks.
// Only the global `fetch` (or an injected one) is used, so the clients run in Node, Deno, Bun and Workers.

/** A fetch-like function; tests inject one that calls the Worker directly. */
export type FetchLike = (request: Request) => Promise<Response>;

export interface ConnectionOptions {
  /** Base URL of the state manager, e.g. `http://127.0.0.1:8787`. Env: EXOSPHERE_STATE_MANAGER_URI. */
  uri?: string;
  /** The API key, sent as `x-api-key`. Env: EXOSPHERE_API_KEY. */
  key?: string;
  /** API version segment of every path (the Python SDK's `state_manager_version`). */
  version?: string;
  fetch?: FetchLike;
}

/** Reads an environment variable when running under Node; undefined elsewhere. */
function fromEnv(name: string): string | undefined {
  const proc = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process;
  const value = proc?.env?.[name];
  return value === "" ? undefined : value;
}

export interface RequestOptions {
  /** The media type asked for (default JSON; `text/event-stream` for a live stream). */
  accept?: string;
  signal?: AbortSignal;
}

export class Connection {
  readonly base: string;
  private readonly key: string;
  private readonly doFetch: FetchLike;

  constructor(namespace: string, opts: ConnectionOptions) {
    const uri = opts.uri ?? fromEnv("EXOSPHERE_STATE_MANAGER_URI");
    const key = opts.key ?? fromEnv("EXOSPHERE_API_KEY");
    if (!uri) throw new Error("State manager URI is not set (pass `uri` or set EXOSPHERE_STATE_MANAGER_URI)");
    if (!key) throw new Error("API key is not set (pass `key` or set EXOSPHERE_API_KEY)");
    if (namespace.trim() === "") throw new Error("namespace must not be empty");
    this.base = `${uri.replace(/\/+$/, "")}/${opts.version ?? "v0"}/namespace/${encodeURIComponent(namespace)}`;
    this.key = key;
    this.doFetch = opts.fetch ?? ((request) => fetch(request));
  }

  /** One request under the namespace; `path` starts with "/". Network failures reject. */
  request(method: string, path: string, body?: unknown, options: RequestOptions = {}): Promise<Response> {
    const headers: Record<string, string> = {
      "x-api-key": this.key,
      accept: options.accept ?? "application/json",
    };
    if (body !== undefined) headers["content-type"] = "application/json";
    return this.doFetch(
      new Request(`${this.base}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        ...(options.signal ? { signal: options.signal } : {}),
      }),
    );
  }
}

/** The body as JSON, or its text when it is not JSON (error messages quote it). */
export async function readBody(res: Response): Promise<{ json?: unknown; text: string }> {
  const text = await res.text();
  try {
    return { json: JSON.parse(text) as unknown, text };
  } catch {
    return { text };
  }
}

export const segment = (s: string): string => encodeURIComponent(s);
