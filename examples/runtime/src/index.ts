export * from "./graphs";
export * from "./nodes";
