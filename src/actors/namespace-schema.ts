// The namespace actor's SQLite schema, created idempotently at construction.
import { Transport, ValidationStatus } from "../engine/model";
import { CRON_SCHEMA } from "./namespace-cron";

const sqlList = (values: readonly string[]) => values.map((v) => `'${v}'`).join(", ");

// The CHECK lists come from the same enums as the wire strings, so the two cannot drift apart.
export const NAMESPACE_SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS registered_nodes (
  name TEXT PRIMARY KEY,
  id TEXT NOT NULL,
  runtime_name TEXT NOT NULL,
  inputs_schema TEXT NOT NULL,
  outputs_schema TEXT NOT NULL,
  secrets TEXT NOT NULL,
  transport TEXT NOT NULL CHECK (transport IN (${sqlList(Transport.options)})),
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS graph_templates (
  name TEXT PRIMARY KEY,
  id TEXT NOT NULL,
  nodes TEXT NOT NULL,
  secrets TEXT NOT NULL,
  retry_policy TEXT NOT NULL,
  store_config TEXT NOT NULL,
  triggers TEXT NOT NULL,
  validation_status TEXT NOT NULL CHECK (validation_status IN (${sqlList(ValidationStatus.options)})),
  validation_errors TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
  run_id TEXT PRIMARY KEY,
  graph_name TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_created_at ON runs (created_at DESC);
CREATE TABLE IF NOT EXISTS directory (namespace TEXT PRIMARY KEY);
${CRON_SCHEMA}`;
