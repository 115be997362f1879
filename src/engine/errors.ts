// One error vocabulary. Engine and actor code throw ApiError (or return it inside a Result across RPC,
// because Workers RPC keeps only an error's message); the API's single onError maps it to
// `{"detail": ...}` with its status.

export type Detail = string | Record<string, unknown> | unknown[];

export class ApiError extends Error {
  constructor(
    readonly status: 400 | 401 | 404 | 405 | 409 | 413 | 415 | 422 | 503,
    readonly detail: Detail,
    options?: { cause?: unknown },
  ) {
    super(typeof detail === "string" ? detail : JSON.stringify(detail), options);
    this.name = "ApiError";
  }
}

export const notFound = (detail: string) => new ApiError(404, detail);
export const badRequest = (detail: string) => new ApiError(400, detail);
export const conflict = (detail: string) => new ApiError(409, detail);

/** What an actor RPC answers: a value, or the ApiError a route must turn into its response. */
export type Result<T> = { ok: true; value: T } | { ok: false; status: ApiError["status"]; detail: Detail };

export const ok = <T>(value: T): Result<T> => ({ ok: true, value });

/** Runs `fn`, turning a thrown ApiError into a failed Result; any other error propagates. */
export async function toResult<T>(fn: () => T | Promise<T>): Promise<Result<T>> {
  try {
    return ok(await fn());
  } catch (e) {
    if (e instanceof ApiError) return { ok: false, status: e.status, detail: e.detail };
    throw e;
  }
}

export function unwrap<T>(result: Result<T>): T {
  if (result.ok) return result.value;
  throw new ApiError(result.status, result.detail);
}
