import { describe, expect, it } from "vitest";
import {
  decryptSecret,
  encryptSecret,
  fromBase64Url,
  SecretDecryptError,
  SecretsKeyError,
  secretsKeyFrom,
  toBase64Url,
} from "../../src/engine/secrets";

// Key bytes 0..31 and a value sealed with nonce bytes 100..111 by Python's `cryptography` AESGCM, the
// library Exosphere uses: proves the two formats are the same.
const KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const PYTHON_CIPHERTEXT = "ZGVmZ2hpamtsbW5vINh3ChWGdun91C2EvvF1qWC2UvtSRyGhGEWp4-g=";

describe("secrets", () => {
  it("decrypts a value encrypted by Exosphere's Python encrypter", async () => {
    expect(await decryptSecret(KEY, PYTHON_CIPHERTEXT)).toBe("héllo wörld");
  });

  it("round-trips any string, including the empty one", async () => {
    for (const value of ["", "sk-live-123", "ünïcødé ✓", "x".repeat(10_000)]) {
      expect(await decryptSecret(KEY, await encryptSecret(KEY, value))).toBe(value);
    }
  });

  it("writes nonce || ciphertext || tag as padded URL-safe base64", async () => {
    const sealed = await encryptSecret(KEY, "abc");
    expect(sealed).toMatch(/^[A-Za-z0-9_-]+=*$/);
    // 12-byte nonce + 3 bytes of ciphertext + 16-byte tag; Exosphere requires >= 32 characters.
    expect(fromBase64Url(sealed).length).toBe(12 + 3 + 16);
    expect(sealed.length).toBeGreaterThanOrEqual(32);
  });

  it("uses a fresh nonce for every encryption", async () => {
    expect(await encryptSecret(KEY, "same")).not.toBe(await encryptSecret(KEY, "same"));
  });

  it("refuses a tampered value or the wrong key", async () => {
    const sealed = fromBase64Url(await encryptSecret(KEY, "secret"));
    sealed[sealed.length - 1] = (sealed[sealed.length - 1] ?? 0) ^ 1;
    await expect(decryptSecret(KEY, toBase64Url(sealed))).rejects.toBeInstanceOf(SecretDecryptError);
    const otherKey = toBase64Url(new Uint8Array(32).fill(7));
    await expect(decryptSecret(otherKey, PYTHON_CIPHERTEXT)).rejects.toBeInstanceOf(SecretDecryptError);
  });

  it("refuses values that are not URL-safe base64 or too short", async () => {
    await expect(decryptSecret(KEY, "not base64!")).rejects.toThrow("not valid URL-safe base64");
    await expect(decryptSecret(KEY, "AAAA")).rejects.toThrow("too short");
  });

  it("refuses a key that is not 32 bytes of URL-safe base64", async () => {
    await expect(encryptSecret(toBase64Url(new Uint8Array(16)), "x")).rejects.toBeInstanceOf(SecretsKeyError);
    await expect(encryptSecret("***", "x")).rejects.toBeInstanceOf(SecretsKeyError);
  });

  it("refuses to store or read secrets when no key is configured, instead of using a known key", async () => {
    for (const unset of [undefined, "", "   "]) {
      await expect(secretsKeyFrom(unset)).rejects.toBeInstanceOf(SecretsKeyError);
      await expect(secretsKeyFrom(unset)).rejects.toThrow("SECRETS_ENCRYPTION_KEY is not configured");
    }
    expect(await secretsKeyFrom(` ${KEY} `)).toBe(KEY);
  });
});
