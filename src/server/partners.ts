/**
 * The partners file (`--partners-file` / `TESSERA_PARTNERS_FILE`): which partner systems
 * may vouch for users through the `signed-payload` provider, and with which keys. When it
 * is set, the server registers the provider (`POST /auth/login/signed-payload`); when it
 * is not, the provider does not exist.
 *
 * ```json
 * {
 *   "maxAgeSeconds": 300,
 *   "partners": [
 *     { "keyId": "acme-2026", "algorithm": "Ed25519", "publicKeyFile": "acme-2026.pub.pem" },
 *     { "keyId": "globex-1", "algorithm": "HS256", "secretEnv": "GLOBEX_SECRET" }
 *   ]
 * }
 * ```
 *
 * Each key may name its `partner` (the issuer of the identities it vouches for; default the
 * keyId, so keys of one partner should share it), refuse unknown identities
 * (`"createUsers": false`: only linked ones sign in) and, when upgrading from a Tessera
 * without identities, adopt the password-less users this partner made before
 * (`"adoptExistingUsers": true`; see `engine/identities.ts`).
 *
 * A key is given inline (`publicKeyPem`, `secret`), as a file beside the partners file
 * (`publicKeyFile`), or, for secrets, by the name of an environment variable
 * (`secretEnv`) so the secret itself need not sit in a file. Errors name the partner and
 * the field, never a secret.
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import * as z from "zod";
import {
  type SignedPayloadOptions,
  type SignedPayloadPartner,
  signedPayloadProvider,
} from "../engine/providers/signed-payload.js";
import type { Tessera } from "../engine/tessera.js";
import { ConfigError } from "./config.js";

const partnerEntry = z
  .object({
    keyId: z.string().min(1),
    algorithm: z.enum(["Ed25519", "HS256"]),
    publicKeyPem: z.string().min(1).optional(),
    publicKeyFile: z.string().min(1).optional(),
    secret: z.string().min(1).optional(),
    secretEnv: z.string().min(1).optional(),
    partner: z.string().min(1).optional(),
    createUsers: z.boolean().optional(),
    adoptExistingUsers: z.boolean().optional(),
  })
  .strict();

const partnersFile = z
  .object({
    maxAgeSeconds: z.number().int().positive().optional(),
    clockSkewSeconds: z.number().int().nonnegative().optional(),
    partners: z.array(partnerEntry).min(1),
  })
  .strict();

/** Reads and checks a partners file; throws `ConfigError`. */
export function loadPartners(
  path: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): SignedPayloadOptions {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigError(`Cannot read partners file ${path}: ${reason}`);
  }
  const parsed = partnersFile.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(
      `Invalid partners file ${path}: ${issue?.path.join(".") || "(file)"} ${issue?.message}.`,
    );
  }
  const partners = parsed.data.partners.map((entry): SignedPayloadPartner => {
    const where = `partner "${entry.keyId}" in ${path}`;
    const identities = {
      ...(entry.partner === undefined ? {} : { partner: entry.partner }),
      ...(entry.createUsers === undefined ? {} : { createUsers: entry.createUsers }),
      ...(entry.adoptExistingUsers === undefined ? {} : { adoptExistingUsers: entry.adoptExistingUsers }),
    };
    if (entry.algorithm === "Ed25519") {
      if ((entry.publicKeyPem === undefined) === (entry.publicKeyFile === undefined)) {
        throw new ConfigError(`${where}: give exactly one of publicKeyPem and publicKeyFile.`);
      }
      const pem = entry.publicKeyPem ?? readKeyFile(resolve(dirname(path), entry.publicKeyFile ?? ""), where);
      return { keyId: entry.keyId, algorithm: "Ed25519", publicKeyPem: pem, ...identities };
    }
    if ((entry.secret === undefined) === (entry.secretEnv === undefined)) {
      throw new ConfigError(`${where}: give exactly one of secret and secretEnv.`);
    }
    const secret = entry.secret ?? env[entry.secretEnv ?? ""];
    if (secret === undefined || secret === "") {
      throw new ConfigError(`${where}: environment variable ${entry.secretEnv} is not set.`);
    }
    return { keyId: entry.keyId, algorithm: "HS256", secret, ...identities };
  });
  const options: SignedPayloadOptions = {
    partners,
    ...(parsed.data.maxAgeSeconds === undefined ? {} : { maxAgeSeconds: parsed.data.maxAgeSeconds }),
    ...(parsed.data.clockSkewSeconds === undefined ? {} : { clockSkewSeconds: parsed.data.clockSkewSeconds }),
  };
  try {
    // Builds the verifiers now, so a bad key stops the server at start-up, not at first use.
    signedPayloadProvider(options);
  } catch (error) {
    throw new ConfigError(
      `Invalid partners file ${path}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  return options;
}

/** Registers the `signed-payload` provider when a partners file is configured. */
export function installPartners(
  tessera: Tessera,
  config: { readonly partnersFile: string | null },
  env: Readonly<Record<string, string | undefined>> = process.env,
): void {
  if (config.partnersFile === null) return;
  tessera.registerProvider(signedPayloadProvider(loadPartners(config.partnersFile, env)));
}

function readKeyFile(path: string, where: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigError(`${where}: cannot read publicKeyFile: ${reason}`);
  }
}
