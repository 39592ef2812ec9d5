/**
 * `tessera keys list|rotate|generate`.
 *
 * `list` and `rotate` work on the signing keys stored in the database (generated on first
 * start). `rotate` makes a new active key; the old one keeps verifying, and stays in the
 * JWKS, until every token it signed has expired. `generate` touches no database: it prints
 * a new private key (PKCS#8 PEM) for `--jwt-private-key-file`, or a random secret for an
 * HS* algorithm's `TESSERA_JWT_SECRET`, for operators who manage keys themselves.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { Command, Option } from "commander";
import { SIGNING_ALGORITHMS, type SigningAlgorithm } from "../tokens/keys.js";
import type { CliIO } from "./io.js";
import { withEngine, withStoreOptions } from "./store-options.js";
import { iso, printRows } from "./table.js";

export function generateKeyMaterial(algorithm: SigningAlgorithm): string {
  const pem = (pair: {
    privateKey: { export(options: { type: "pkcs8"; format: "pem" }): string | Buffer };
  }) => String(pair.privateKey.export({ type: "pkcs8", format: "pem" }));
  switch (algorithm) {
    case "EdDSA":
      return pem(generateKeyPairSync("ed25519"));
    case "ES256":
      return pem(generateKeyPairSync("ec", { namedCurve: "P-256" }));
    case "RS256":
    case "PS256":
      return pem(generateKeyPairSync("rsa", { modulusLength: 2048 }));
    case "HS256":
    case "HS384":
    case "HS512":
      return `${randomBytes(48).toString("base64url")}\n`;
    default:
      return algorithm satisfies never;
  }
}

export function keysCommand(io: CliIO): Command {
  const keys = new Command("keys").description("manage JWT signing keys");

  withStoreOptions(
    keys.command("list").description("list stored signing keys").option("--json", "print JSON"),
  ).action(async (options: { json?: boolean }, command: Command) => {
    const rows = await withEngine(command, io, async ({ tessera }) =>
      tessera.listKeys().map((key) => ({
        kid: key.kid,
        alg: key.alg,
        createdAt: iso(key.createdAt),
        retiredAt: iso(key.retiredAt),
        status: key.retiredAt === null ? "active" : "retired",
      })),
    );
    printRows(io, rows, { json: options.json === true, empty: "No keys." });
  });

  withStoreOptions(
    keys
      .command("rotate")
      .description("make a new active signing key (of the active key's algorithm unless --algorithm)")
      .addOption(new Option("-a, --algorithm <alg>", "algorithm of the new key").choices(SIGNING_ALGORITHMS)),
  ).action(async (options: { algorithm?: SigningAlgorithm }, command: Command) => {
    const kid = await withEngine(command, io, ({ tessera }) =>
      tessera.rotateKeys(options.algorithm === undefined ? {} : { algorithm: options.algorithm }),
    );
    io.out(`New active signing key ${kid}. The previous key keeps verifying until its tokens have expired.`);
  });

  keys
    .command("generate")
    .description("print a new private key (PEM) or HMAC secret for configuring keys yourself")
    .addOption(new Option("-a, --algorithm <alg>", "algorithm").choices(SIGNING_ALGORITHMS).default("EdDSA"))
    .option("-o, --out <file>", "write to this file (mode 600) instead of standard output")
    .action((options: { algorithm: SigningAlgorithm; out?: string }) => {
      const material = generateKeyMaterial(options.algorithm);
      if (options.out === undefined) {
        io.out(material);
        return;
      }
      const path = resolve(io.cwd, options.out);
      writeFileSync(path, material, { mode: 0o600, flag: "wx" });
      const how = options.algorithm.startsWith("HS")
        ? "TESSERA_JWT_SECRET=$(cat FILE)"
        : `--jwt-algorithm ${options.algorithm} --jwt-private-key-file FILE`;
      io.out(`Wrote ${options.algorithm} key to ${path}. Use it with ${how.replace("FILE", path)}.`);
    });

  return keys;
}
