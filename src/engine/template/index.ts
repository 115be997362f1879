export { buildParentsAndPaths, DependencyGraphError, type ParentsAndPaths } from "./parents-paths";
export {
  type ParsedTemplate,
  type PlaceholderRef,
  PlaceholderSyntaxError,
  parseTemplate,
  refKey,
  renderTemplate,
  type TemplatePart,
  templateRefs,
} from "./placeholders";
export { type RegisteredNodeLookup, verifyGraph } from "./registry-check";
export {
  cronTriggerSchema,
  nodeTemplateSchema,
  retryPolicySchema,
  storeConfigSchema,
  type TriggerBody,
  triggerBodySchema,
  type UpsertGraphBody,
  upsertGraphBodySchema,
} from "./request-schema";
export { type RootInputs, resolveRootInputs } from "./root-inputs";
export { findRoot, type GraphStructure, GraphStructureError, validateGraphStructure } from "./structure";
export { subtreeNodes, unitedSubtree } from "./united-subtree";
