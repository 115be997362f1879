// The engine's configuration: every environment variable it reads, parsed in one place, once per
// environment object, into typed values. Code reads `configOf(env)`, never `env.SOME_VAR`. A value that
// is unset means its documented default; a malformed one is logged and also means the default (a typo
// in a tuning knob must not take the engine down), except the API key, whose absence closes the API.
import {
  DEFAULT_BRANCH_SHARDS,
  DEFAULT_DELIVERY_LEASE_MS,
  DEFAULT_PULL_LEASE_MS,
  DEFAULT_PULL_WAIT_MS,
  DEFAULT_PUSH_LEASE_MS,
  DEFAULT_SHARD_FROM_OUTPUT,
  DEFAULT_STATES_PER_MESSAGE,
  MAX_BRANCH_SHARDS,
  MAX_PULL_WAIT_MS,
  MIN_DELIVERY_LEASE_MS,
  REPORT_PAGE_OUTPUTS,
} from "./engine/limits";
import type { ShardPlan } from "./engine/run/types";

/** The variables and secrets the engine reads (all optional at runtime; see README's settings table). */
export interface ConfigVars {
  /** The single API key (Exosphere's `x-api-key`). Unset or empty: every /v0 request gets 503. */
  STATE_MANAGER_SECRET?: string;
  /** URL-safe base64 of 32 bytes: the AES-256-GCM key of graph secrets. */
  SECRETS_ENCRYPTION_KEY?: string;
  /** Comma-separated allowed CORS origins. */
  CORS_ORIGINS?: string;
  /** Ready states packed into one queue message. */
  DISPATCH_STATES_PER_MESSAGE?: string | number;
  /** Execution lease of a state sent through the queue, in ms. */
  PUSH_LEASE_MS?: string | number;
  /** Delivery lease: how soon, after a restart, a state sent before it and never confirmed is sent again. */
  DELIVERY_LEASE_MS?: string | number;
  /** Lease of a state claimed by a pull runtime, in ms. */
  PULL_LEASE_MS?: string | number;
  /** Longest wait of a `states/enqueue` that finds nothing ready, in ms (0: answer at once). */
  PULL_WAIT_MS?: string | number;
  /** Branch shards a run hands the branches of its wide fan-outs to (0: none). */
  BRANCH_SHARDS?: string | number;
  /** The output of a fan-out from which its branches go to the shards. */
  SHARD_FROM_OUTPUT?: string | number;
  /** Outputs per page when a push runtime reports a fan-out. */
  REPORT_PAGE_OUTPUTS?: string | number;
  /** "off" turns eager execution off: reports hand no ready state back to the consumer. */
  EAGER_EXECUTION?: string;
}

export interface Config {
  /** The API key; null when unset or empty (the API then refuses to serve). */
  apiKey: string | null;
  /** The configured secrets key (trimmed); undefined: secrets can be neither stored nor read. */
  secretsEncryptionKey: string | undefined;
  corsOrigins: string[];
  statesPerMessage: number;
  pushLeaseMs: number;
  deliveryLeaseMs: number;
  pullLeaseMs: number;
  /** Default long-poll wait of `states/enqueue` (a request's `wait_ms` overrides it). */
  pullWaitMs: number;
  /** Captured by each run when it starts. */
  shards: ShardPlan;
  reportPageOutputs: number;
  /** Whether reports hand ready states back to push consumers (eager execution). */
  eager: boolean;
}

/** Exosphere's default CORS allow-list. */
export const DEFAULT_CORS_ORIGINS: readonly string[] = [
  "http://localhost:3000",
  "http://localhost:3001",
  "http://127.0.0.1:3000",
  "http://127.0.0.1:3001",
];

/** Parses the environment's variables; pure (apart from warning about malformed values). */
export function parseConfig(vars: Readonly<Record<string, unknown>>): Config {
  const text = (name: keyof ConfigVars): string | undefined => {
    const value = vars[name];
    return typeof value === "string" ? value : undefined;
  };
  const secretsKey = text("SECRETS_ENCRYPTION_KEY")?.trim();
  return {
    apiKey: text("STATE_MANAGER_SECRET") || null,
    secretsEncryptionKey: secretsKey === "" ? undefined : secretsKey,
    corsOrigins: parseOrigins(text("CORS_ORIGINS")),
    statesPerMessage: numberAtLeast(vars, "DISPATCH_STATES_PER_MESSAGE", 1, DEFAULT_STATES_PER_MESSAGE),
    pushLeaseMs: positive(vars, "PUSH_LEASE_MS", DEFAULT_PUSH_LEASE_MS),
    deliveryLeaseMs: numberAtLeast(
      vars,
      "DELIVERY_LEASE_MS",
      MIN_DELIVERY_LEASE_MS,
      DEFAULT_DELIVERY_LEASE_MS,
    ),
    pullLeaseMs: positive(vars, "PULL_LEASE_MS", DEFAULT_PULL_LEASE_MS),
    pullWaitMs: numberWhere(
      vars,
      "PULL_WAIT_MS",
      (n) => Number.isInteger(n) && n >= 0 && n <= MAX_PULL_WAIT_MS,
      `an integer number of milliseconds from 0 to ${MAX_PULL_WAIT_MS}`,
      DEFAULT_PULL_WAIT_MS,
    ),
    shards: {
      count: numberWhere(
        vars,
        "BRANCH_SHARDS",
        (n) => Number.isInteger(n) && n >= 0 && n <= MAX_BRANCH_SHARDS,
        `an integer from 0 to ${MAX_BRANCH_SHARDS}`,
        DEFAULT_BRANCH_SHARDS,
      ),
      from: numberWhere(
        vars,
        "SHARD_FROM_OUTPUT",
        (n) => Number.isInteger(n) && n >= 1,
        "an integer ≥ 1",
        DEFAULT_SHARD_FROM_OUTPUT,
      ),
    },
    eager: text("EAGER_EXECUTION")?.trim().toLowerCase() !== "off",
    reportPageOutputs: numberWhere(
      vars,
      "REPORT_PAGE_OUTPUTS",
      (n) => Number.isInteger(n) && n >= 1,
      "an integer ≥ 1",
      REPORT_PAGE_OUTPUTS,
    ),
  };
}

const parsed = new WeakMap<object, Config>();

/** The configuration of this environment, parsed on first use. */
export function configOf(env: object): Config {
  let config = parsed.get(env);
  if (config === undefined) {
    config = parseConfig(env as Record<string, unknown>);
    parsed.set(env, config);
  }
  return config;
}

function parseOrigins(configured: string | undefined): string[] {
  if (configured === undefined || configured.trim() === "") return [...DEFAULT_CORS_ORIGINS];
  return configured
    .split(",")
    .map((o) => o.trim())
    .filter((o) => o !== "");
}

function positive(vars: Readonly<Record<string, unknown>>, name: keyof ConfigVars, fallback: number): number {
  return numberWhere(vars, name, (n) => n > 0, "a number of milliseconds above 0", fallback);
}

function numberAtLeast(
  vars: Readonly<Record<string, unknown>>,
  name: keyof ConfigVars,
  min: number,
  fallback: number,
): number {
  return numberWhere(vars, name, (n) => n >= min, `a number ≥ ${min}`, fallback);
}

function numberWhere(
  vars: Readonly<Record<string, unknown>>,
  name: keyof ConfigVars,
  accept: (n: number) => boolean,
  expected: string,
  fallback: number,
): number {
  const raw = vars[name];
  if (raw === undefined || raw === null || raw === "") return fallback;
  const value = typeof raw === "number" || typeof raw === "string" ? Number(raw) : Number.NaN;
  if (Number.isFinite(value) && accept(value)) return value;
  console.warn(`config: ${name} should be ${expected}, got ${JSON.stringify(raw)}; using ${fallback}`);
  return fallback;
}
