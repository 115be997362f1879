import type { Plugin } from "vite";

/** A Vite plugin that loads the web page's files as text where the engine imports them. */
export declare function webPageAsText(): Plugin;
