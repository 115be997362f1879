/** The web page's files by path: their text and content type (files.js). */
export declare const WEB_PAGE_FILES: Readonly<Record<string, { body: string; type: string }>>;
