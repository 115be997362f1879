/** `import … from "exoflare"` inside this repository: the sources. */
export const PACKAGE_ALIASES: Record<string, string>;
/** Bundles `entry` (relative to the repository) into `<name>.mjs` and answers that file's path. */
export function bundleRuntime(name: string, entry: string): string;
