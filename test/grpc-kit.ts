/**
 * A real `@grpc/grpc-js` client for the SessionService, loaded from the repository's
 * `.proto` exactly as an outside client would load it, and helpers that turn its
 * callbacks into promises and its failures into `{ status, code, details }`.
 */
import {
  type CallOptions,
  type ChannelCredentials,
  type Client,
  credentials as grpcCredentials,
  loadPackageDefinition,
  Metadata,
  type ServiceClientConstructor,
  type ServiceError,
} from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { protoPath } from "../src/surfaces/grpc/definition.js";

type Callback = (error: ServiceError | null, response?: Record<string, unknown>) => void;
type UnaryMethod = (request: object, metadata: Metadata, options: CallOptions, callback: Callback) => void;

export interface SessionClient extends Client {
  CreateSession: UnaryMethod;
  ReissueSession: UnaryMethod;
  DestroySession: UnaryMethod;
  GetSession: UnaryMethod;
}

export type MethodName = "CreateSession" | "ReissueSession" | "DestroySession" | "GetSession";

// What an outside client would do: plain proto-loader options, 64-bit ids as strings.
const definition = loadSync(protoPath(), { keepCase: true, longs: String, defaults: true });
const grpcObject = loadPackageDefinition(definition) as unknown as {
  tessera: { v1: { SessionService: ServiceClientConstructor } };
};

export function sessionClient(port: number, creds?: ChannelCredentials, options: object = {}): SessionClient {
  const Ctor = grpcObject.tessera.v1.SessionService;
  return new Ctor(
    `127.0.0.1:${port}`,
    creds ?? grpcCredentials.createInsecure(),
    options,
  ) as unknown as SessionClient;
}

export function bearer(token: string): Metadata {
  const metadata = new Metadata();
  metadata.set("authorization", `Bearer ${token}`);
  return metadata;
}

/** Calls a unary method; resolves with the response, rejects with the ServiceError. */
export function call(
  client: SessionClient,
  method: MethodName,
  request: object,
  metadata: Metadata = new Metadata(),
  options: CallOptions = {},
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    client[method](request, metadata, options, (error, response) => {
      if (error) reject(error);
      else resolve(response ?? {});
    });
  });
}

export interface Failure {
  /** The gRPC status code. */
  readonly status: number;
  /** The contract error code from the `tessera-error-code` trailer. */
  readonly code: string | undefined;
  readonly details: string;
  readonly metadata: Metadata;
}

/** How a call failed (fails the test if it succeeded). */
export async function failureOf(promise: Promise<unknown>): Promise<Failure> {
  try {
    await promise;
  } catch (error) {
    const e = error as ServiceError;
    const code = e.metadata?.get("tessera-error-code")[0];
    return {
      status: e.code,
      code: typeof code === "string" ? code : undefined,
      details: e.details,
      metadata: e.metadata,
    };
  }
  throw new Error("expected the call to fail, but it succeeded");
}
