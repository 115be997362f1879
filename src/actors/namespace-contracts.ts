// The rows the namespace actor stores (SQLite columns; JSON columns are strings).
export type NodeRow = {
  name: string;
  id: string;
  runtime_name: string;
  inputs_schema: string;
  outputs_schema: string;
  secrets: string;
  transport: string;
  created_at: number;
  updated_at: number;
};

export type GraphRow = {
  name: string;
  id: string;
  nodes: string;
  secrets: string;
  retry_policy: string;
  store_config: string;
  triggers: string;
  validation_status: string;
  validation_errors: string;
  created_at: number;
  updated_at: number;
};
