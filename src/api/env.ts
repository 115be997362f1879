// What the API's handlers see: the Worker bindings, plus configuration read from the environment.
// Configuration is optional in the type because it is optional at runtime: each reader decides what
// an unset value means (auth refuses to serve, secrets fall back to the local development key).

export interface ApiConfig {
  /** The single API key (Exosphere's `x-api-key`). Unset or empty: every /v0 request gets 503. */
  STATE_MANAGER_SECRET?: string;
  /** URL-safe base64 of 32 bytes: the AES-256-GCM key of graph secrets. */
  SECRETS_ENCRYPTION_KEY?: string;
  /** Comma-separated allowed CORS origins. */
  CORS_ORIGINS?: string;
}

export type AppEnv = {
  Bindings: Env & ApiConfig;
  Variables: { requestId: string };
};
