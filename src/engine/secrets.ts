// Graph secrets at rest, in Exosphere's format so that values written by either system decrypt in the
// other: urlsafe_base64(nonce (12 random bytes) || AES-256-GCM(key, nonce, utf8(plaintext), no AAD)).
// WebCrypto's AES-GCM output is ciphertext || 16-byte tag, the same layout Python's AESGCM produces.
// Platform-free: only WebCrypto, which both workerd and Node provide.

import { ConfigurationError } from "./errors";

const NONCE_BYTES = 12;
const KEY_BYTES = 32;

/** SECRETS_ENCRYPTION_KEY is malformed: the operator's problem; the message names no key material. */
export class SecretsKeyError extends ConfigurationError {
  constructor(detail: string, options?: { cause?: unknown }) {
    super("SECRETS_ENCRYPTION_KEY", detail, options);
    this.name = "SecretsKeyError";
  }
}

export class SecretDecryptError extends Error {
  override name = "SecretDecryptError";
}

/**
 * The configured URL-safe base64 key. Unset, secrets can be neither stored nor read (503, as the API
 * without its key): a deployment never falls back to a key anyone could know. Local development (`npm
 * start`) and the tests pass a development key explicitly.
 */
export async function secretsKeyFrom(configured: string | undefined): Promise<string> {
  if (configured !== undefined && configured.trim() !== "") return configured.trim();
  throw new SecretsKeyError(
    "SECRETS_ENCRYPTION_KEY is not configured on this server: graph secrets cannot be stored or read until it is set",
  );
}

export async function encryptSecret(keyB64: string, plaintext: string): Promise<string> {
  const key = await importKey(keyB64);
  const nonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv: nonce },
    key,
    new TextEncoder().encode(plaintext),
  );
  const out = new Uint8Array(NONCE_BYTES + sealed.byteLength);
  out.set(nonce, 0);
  out.set(new Uint8Array(sealed), NONCE_BYTES);
  return toBase64Url(out);
}

export async function decryptSecret(keyB64: string, ciphertext: string): Promise<string> {
  const key = await importKey(keyB64);
  let raw: Uint8Array;
  try {
    raw = fromBase64Url(ciphertext);
  } catch (e) {
    throw new SecretDecryptError("Value is not valid URL-safe base64 encoded", { cause: e });
  }
  if (raw.length < NONCE_BYTES)
    throw new SecretDecryptError("Value appears to be too short for an encrypted string");
  try {
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: raw.subarray(0, NONCE_BYTES) },
      key,
      raw.subarray(NONCE_BYTES),
    );
    return new TextDecoder().decode(plain);
  } catch (e) {
    // Wrong key or tampered value; the message names neither the key nor the value.
    throw new SecretDecryptError("Secret could not be decrypted with the configured key", { cause: e });
  }
}

export async function encryptSecrets(
  keyB64: string,
  plaintexts: Record<string, string>,
): Promise<Record<string, string>> {
  const entries = await Promise.all(
    Object.entries(plaintexts).map(
      async ([name, value]) => [name, await encryptSecret(keyB64, value)] as const,
    ),
  );
  return Object.fromEntries(entries);
}

// Imported keys are cached per key string: importKey is comparatively slow and the key rarely changes.
const keyCache = new Map<string, Promise<CryptoKey>>();

function importKey(keyB64: string): Promise<CryptoKey> {
  let cached = keyCache.get(keyB64);
  if (cached === undefined) {
    cached = doImportKey(keyB64);
    keyCache.set(keyB64, cached);
    cached.catch(() => keyCache.delete(keyB64));
  }
  return cached;
}

async function doImportKey(keyB64: string): Promise<CryptoKey> {
  let raw: Uint8Array;
  try {
    raw = fromBase64Url(keyB64);
  } catch (e) {
    throw new SecretsKeyError("SECRETS_ENCRYPTION_KEY is not valid URL-safe base64", { cause: e });
  }
  if (raw.length !== KEY_BYTES) {
    throw new SecretsKeyError(`SECRETS_ENCRYPTION_KEY must decode to ${KEY_BYTES} bytes, got ${raw.length}`);
  }
  return crypto.subtle.importKey("raw", raw, { name: "AES-GCM" }, false, ["encrypt", "decrypt"]);
}

/** URL-safe base64 with `=` padding, as Python's `base64.urlsafe_b64encode` writes it. */
export function toBase64Url(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_");
}

/** Accepts URL-safe base64 with or without padding; throws on any other character. */
export function fromBase64Url(text: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*={0,2}$/.test(text)) throw new Error("invalid URL-safe base64");
  const unpadded = text.replace(/=+$/, "");
  if (unpadded.length % 4 === 1) throw new Error("invalid URL-safe base64 length");
  const standard = unpadded.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(standard + "=".repeat((4 - (standard.length % 4)) % 4));
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}
