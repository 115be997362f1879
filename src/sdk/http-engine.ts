// The runtime interface over HTTPS (contracts/engine-rpc.ts), for a runtime Worker that cannot bind the
// engine with a service binding (another account) or a process outside Workers: each method is one
// `POST {url}/v0/runtime/{method}` with `{"args": [...]}` and the API key. The same EngineRpc as the
// binding, so `createRuntime({ ..., engine: (env) => httpEngine({ url: env.ENGINE_URL, apiKey: env.ENGINE_KEY }) })`
// is the only change.
import { ENGINE_RPC_METHODS, type EngineRpc } from "../contracts/engine-rpc";

export interface HttpEngineOptions {
  /** The engine's base URL, e.g. `https://exoflare.example.workers.dev`. */
  url: string;
  /** The engine's API key (`STATE_MANAGER_SECRET`), sent as `x-api-key`. */
  apiKey: string;
  /** A fetch of your own (tests, proxies); default: the global fetch. */
  fetch?: (request: Request) => Promise<Response>;
}

/** A call the engine refused: its HTTP status and the `detail` it gave. */
export class EngineCallError extends Error {
  constructor(
    readonly method: string,
    readonly status: number,
    readonly detail: string,
  ) {
    super(`engine refused ${method} (${status}): ${detail}`);
    this.name = "EngineCallError";
  }
}

export function httpEngine(options: HttpEngineOptions): EngineRpc {
  const base = options.url.replace(/\/+$/, "");
  const send = options.fetch ?? ((request: Request) => fetch(request));
  const call =
    (method: string) =>
    async (...args: unknown[]): Promise<unknown> => {
      const response = await send(
        new Request(`${base}/v0/runtime/${method}`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-api-key": options.apiKey },
          body: JSON.stringify({ args }),
        }),
      );
      const text = await response.text();
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      if (
        method === "registerNodes" &&
        response.status >= 400 &&
        response.status < 500 &&
        response.status !== 401
      ) {
        const detail = (body as { detail?: unknown } | undefined)?.detail;
        return { ok: false, error: { kind: response.status === 422 ? "unprocessable" : "invalid", detail } };
      }
      if (!response.ok) {
        const detail = (body as { detail?: unknown } | undefined)?.detail;
        throw new EngineCallError(
          method,
          response.status,
          typeof detail === "string" ? detail : JSON.stringify(detail ?? text.slice(0, 300)),
        );
      }
      const result = (body as { result?: unknown } | undefined)?.result;
      // The same answer as over the binding: the route answers a registration's value unwrapped.
      return method === "registerNodes" ? { ok: true, value: result } : result;
    };
  const engine: Record<string, unknown> = {};
  for (const method of ENGINE_RPC_METHODS) engine[method] = call(method);
  return engine as unknown as EngineRpc;
}
