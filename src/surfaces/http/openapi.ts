/**
 * `GET /openapi.json`: an OpenAPI 3.1 document of the HTTP API, built from the routes the
 * app actually registered and from the same zod schemas the routes validate request bodies
 * with (`z.toJSONSchema`), so the document cannot describe a body the server would refuse.
 *
 * Every route needs an entry in `OPERATIONS` (its summary, how it authenticates, its body
 * schema and its answers). A route without one is still listed, marked undocumented, and
 * the OpenAPI test fails until it has an entry — that is how a new route gets documented.
 * Plugin routes are described generically: their schemas belong to their plugin.
 */
import * as z from "zod";
import { ERROR_CODES, type ErrorCode } from "../../errors.js";
import { HTTP_STATUS } from "./errors.js";

export interface RegisteredRoute {
  readonly method: string;
  readonly url: string;
}

type Auth = "none" | "session" | "cookie";
type Content = "json" | "html" | "text" | "empty" | "redirect";

export interface OperationDoc {
  readonly summary: string;
  readonly tag: string;
  readonly auth: Auth;
  /** The body schema the route parses with, when it takes a JSON body. */
  readonly body?: z.ZodType;
  /** The query schema the route parses with (an object of string parameters). */
  readonly query?: z.ZodObject;
  /** A reference to a component schema of the success body, or a schema of its own. */
  readonly success: { readonly status: number; readonly content: Content; readonly schema?: string };
  readonly errors: readonly ErrorCode[];
}

export type OperationTable = Readonly<Record<string, OperationDoc>>;

/** Named response shapes of the contract, referenced from operations as `#/components/schemas/…`. */
const COMPONENTS: Record<string, object> = {
  Error: {
    type: "object",
    required: ["error"],
    properties: {
      error: {
        type: "object",
        required: ["code", "message"],
        properties: {
          code: { type: "string", enum: [...ERROR_CODES] },
          message: { type: "string" },
          issues: {
            type: "array",
            items: {
              type: "object",
              required: ["path", "message"],
              properties: { path: { type: "string" }, message: { type: "string" } },
            },
          },
        },
      },
    },
  },
  User: {
    type: "object",
    required: ["id", "uuid", "username"],
    properties: {
      id: { type: "integer", minimum: 1 },
      uuid: { type: "string", format: "uuid" },
      username: { type: "string" },
    },
  },
  UserAnswer: {
    type: "object",
    required: ["user"],
    properties: { user: { $ref: "#/components/schemas/User" } },
  },
  TokenPair: {
    type: "object",
    required: [
      "accessToken",
      "refreshToken",
      "accessExpiration",
      "refreshExpiration",
      "tokenType",
      "sessionId",
      "user",
    ],
    properties: {
      accessToken: { type: "string", description: "an access JWT, or a session token once upgraded" },
      refreshToken: { type: "string" },
      accessExpiration: { type: "string", format: "date-time" },
      refreshExpiration: { type: "string", format: "date-time" },
      tokenType: { type: "string", enum: ["jwt", "session"] },
      sessionId: { type: "string" },
      user: { $ref: "#/components/schemas/User" },
    },
  },
  Session: {
    type: "object",
    required: ["id", "userId", "createdAt", "lastSeenAt", "expiresAt", "tokenType"],
    properties: {
      id: { type: "string" },
      userId: { type: "integer" },
      deviceId: { type: ["string", "null"] },
      deviceName: { type: ["string", "null"] },
      createdAt: { type: "string", format: "date-time" },
      lastSeenAt: { type: "string", format: "date-time" },
      expiresAt: { type: "string", format: "date-time" },
      maxExpiresAt: {
        type: "string",
        format: "date-time",
        description: "the absolute cap fixed at login: no refresh moves expiresAt past it",
      },
      authenticatedAt: { type: "string", format: "date-time" },
      authMethods: { type: "array", items: { type: "string" } },
      tokenType: { type: "string", enum: ["jwt", "session"] },
      metadata: { type: "object" },
      data: {},
    },
  },
  SessionAnswer: {
    type: "object",
    required: ["session"],
    properties: {
      session: { $ref: "#/components/schemas/Session" },
      user: { $ref: "#/components/schemas/User" },
    },
  },
  SessionList: {
    type: "object",
    required: ["sessions", "currentSessionId"],
    properties: {
      sessions: { type: "array", items: { $ref: "#/components/schemas/Session" } },
      currentSessionId: { type: "string" },
    },
  },
  Link: {
    type: "object",
    required: ["url", "expiresAt"],
    properties: {
      url: { type: "string", format: "uri" },
      expiresAt: { type: "string", format: "date-time" },
    },
  },
  Jwks: {
    type: "object",
    required: ["keys"],
    properties: { keys: { type: "array", items: { type: "object" } } },
  },
  Health: { type: "object", properties: { status: { type: "string" } } },
  SecurityEvent: {
    type: "object",
    required: ["id", "at", "kind", "userId", "sessionId", "surface", "ipAddress", "userAgent", "detail"],
    properties: {
      id: { type: "string" },
      at: { type: "string", format: "date-time" },
      kind: { type: "string" },
      userId: { type: ["integer", "null"] },
      usernameKey: { type: ["string", "null"] },
      sessionId: { type: ["string", "null"] },
      surface: { type: ["string", "null"], enum: ["http", "socket", "grpc", "cli", "library", null] },
      ipAddress: { type: ["string", "null"] },
      userAgent: { type: ["string", "null"] },
      detail: { type: "object" },
    },
  },
  SecurityEventPage: {
    type: "object",
    required: ["events"],
    properties: {
      events: { type: "array", items: { $ref: "#/components/schemas/SecurityEvent" } },
      next: { type: "string", description: "pass as ?before= for the next page; absent on the last" },
    },
  },
};

function jsonSchema(schema: z.ZodType): object {
  // `io: "input"`: the document describes what a client may send.
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, {
    io: "input",
    unrepresentable: "any",
  }) as Record<string, unknown>;
  return rest;
}

function successContent(success: OperationDoc["success"]): object | undefined {
  const schema = success.schema === undefined ? {} : { $ref: `#/components/schemas/${success.schema}` };
  switch (success.content) {
    case "json":
      return { "application/json": { schema } };
    case "html":
      return { "text/html": { schema: { type: "string" } } };
    case "text":
      return { "text/plain": { schema: { type: "string" } } };
    case "empty":
    case "redirect":
      return undefined;
  }
}

function operation(doc: OperationDoc, method: string, url: string): object {
  const responses: Record<string, object> = {};
  const content = successContent(doc.success);
  responses[String(doc.success.status)] = {
    description: doc.success.content === "redirect" ? "a redirect (Location header)" : "success",
    ...(content === undefined ? {} : { content }),
  };
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of doc.errors)
    byStatus.set(HTTP_STATUS[code], [...(byStatus.get(HTTP_STATUS[code]) ?? []), code]);
  for (const [status, codes] of [...byStatus].sort(([a], [b]) => a - b)) {
    responses[String(status)] = {
      description: codes.join(", "),
      content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
    };
  }
  const parameters: object[] = [...url.matchAll(/:([A-Za-z]+)/g)].map((match) => ({
    name: match[1],
    in: "path",
    required: true,
    schema: { type: "string" },
  }));
  for (const [name, field] of Object.entries(doc.query?.shape ?? {})) {
    const schema = field as z.ZodType;
    parameters.push({
      name,
      in: "query",
      required: !schema.safeParse(undefined).success,
      schema: jsonSchema(schema),
    });
  }
  return {
    operationId: `${method.toLowerCase()}${url.replace(/[:/.{}-]+(\w)?/g, (_all, next: string | undefined) => (next ?? "").toUpperCase())}`,
    summary: doc.summary,
    tags: [doc.tag],
    ...(doc.auth === "none" ? { security: [] } : doc.auth === "cookie" ? { security: [{ cookie: [] }] } : {}),
    ...(parameters.length === 0 ? {} : { parameters }),
    ...(doc.body === undefined
      ? {}
      : {
          requestBody: { required: true, content: { "application/json": { schema: jsonSchema(doc.body) } } },
        }),
    responses,
  };
}

/** Routes Fastify adds by itself or that only answer CORS: not part of the API. */
function listed(route: RegisteredRoute): boolean {
  return route.method !== "HEAD" && route.method !== "OPTIONS" && route.url !== "*";
}

/** The key of `route` in an `OperationTable`: `"POST /auth/login"`. */
export function operationKey(route: RegisteredRoute): string {
  return `${route.method} ${route.url}`;
}

export interface OpenApiInput {
  readonly routes: readonly RegisteredRoute[];
  readonly operations: OperationTable;
  /** Routes a plugin added: described generically. */
  readonly pluginRoutes?: ReadonlySet<string>;
  readonly version: string;
}

export function openApiDocument(input: OpenApiInput): Record<string, unknown> {
  const paths: Record<string, Record<string, object>> = {};
  for (const route of input.routes.filter(listed)) {
    const key = operationKey(route);
    const path = route.url.replace(/:([A-Za-z]+)/g, "{$1}");
    const doc: OperationDoc = input.operations[key] ?? {
      summary: input.pluginRoutes?.has(key) === true ? "a route added by a plugin" : "undocumented",
      tag: input.pluginRoutes?.has(key) === true ? "plugins" : "undocumented",
      auth: "session",
      success: { status: 200, content: "json" },
      errors: [],
    };
    paths[path] ??= {};
    (paths[path] as Record<string, object>)[route.method.toLowerCase()] = operation(
      doc,
      route.method,
      route.url,
    );
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Tessera HTTP API",
      version: input.version,
      description:
        "Sessions and tokens: the wire contract every client relies on (errors as {error: {code, message}}).",
    },
    servers: [{ url: "/" }],
    security: [{ bearer: [] }, { cookie: [] }],
    paths,
    components: {
      schemas: COMPONENTS,
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", description: "an access JWT or a session token" },
        cookie: { type: "apiKey", in: "cookie", name: "tessera_session" },
      },
    },
  };
}
