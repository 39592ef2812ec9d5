/**
 * `GET /openapi.json`: a valid OpenAPI 3.1 document (checked with a standard validator)
 * that lists every route the app serves, each documented, with request bodies taken from
 * the schemas the routes validate with.
 */
import { Validator } from "@seriousme/openapi-schema-validator";
import { afterEach, describe, expect, it } from "vitest";
import { buildHttpApp } from "../src/surfaces/http/app.js";
import { OPERATIONS } from "../src/surfaces/http/routes/openapi.js";
import { body, makeApp, type TestApp } from "./http-kit.js";
import { makeEngine } from "./kit.js";

let opened: TestApp | undefined;
afterEach(async () => {
  await opened?.close();
  opened = undefined;
});

interface Document {
  readonly openapi: string;
  readonly paths: Record<
    string,
    Record<
      string,
      { tags: string[]; requestBody?: { content: Record<string, { schema: Record<string, unknown> }> } }
    >
  >;
}

async function documentOf(test: TestApp): Promise<Document> {
  const response = await test.app.inject({ method: "GET", url: "/openapi.json" });
  expect(response.statusCode).toBe(200);
  expect(response.headers["content-type"]).toMatch(/^application\/json/);
  return body<Document>(response);
}

/** `"POST /auth/login"` for every operation of the document. */
function operationsOf(document: Document): string[] {
  return Object.entries(document.paths).flatMap(([path, methods]) =>
    Object.keys(methods).map((method) => `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ":$1")}`),
  );
}

describe("GET /openapi.json", () => {
  it("the validator refuses a broken document (the check below can fail)", async () => {
    const result = await new Validator().validate({
      openapi: "3.1.0",
      paths: { "/x": { get: { responses: 7 } } },
    });
    expect(result.valid).toBe(false);
  });

  it("passes the OpenAPI 3.1 schema", async () => {
    opened = await makeApp();
    const document = await documentOf(opened);
    expect(document.openapi).toBe("3.1.0");
    const validator = new Validator();
    const result = await validator.validate(document as unknown as Parameters<Validator["validate"]>[0]);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it("documents every route the app serves, and no route it does not", async () => {
    opened = await makeApp();
    const listed = operationsOf(await documentOf(opened));
    const undocumented = Object.entries((await documentOf(opened)).paths).flatMap(([path, methods]) =>
      Object.entries(methods)
        .filter(([, operation]) => operation.tags.includes("undocumented"))
        .map(
          ([method]) =>
            `${method.toUpperCase()} ${path} — add it to OPERATIONS in src/surfaces/http/routes/openapi.ts`,
        ),
    );
    expect(undocumented).toEqual([]);
    expect(Object.keys(OPERATIONS).filter((key) => !listed.includes(key))).toEqual([]);
    for (const route of [
      "POST /auth/login",
      "POST /auth/refresh",
      "GET /auth/sessions",
      "DELETE /auth/sessions/:id",
    ]) {
      expect(listed).toContain(route);
    }
  });

  it("takes request bodies from the routes' own schemas: required fields, no unknown ones", async () => {
    opened = await makeApp();
    const document = await documentOf(opened);
    const login = document.paths["/auth/login"]?.post?.requestBody?.content["application/json"]?.schema;
    expect(login).toMatchObject({ type: "object", additionalProperties: false });
    expect(login?.required).toEqual(expect.arrayContaining(["username", "password"]));
    const refresh = document.paths["/auth/refresh"]?.post?.requestBody?.content["application/json"]?.schema;
    expect(refresh).toMatchObject({ required: ["refreshToken"], additionalProperties: false });
    // What the document says is refused is refused: a field it does not list.
    const refused = await opened.app.inject({
      method: "POST",
      url: "/auth/refresh",
      payload: { refreshToken: "x", extra: 1 },
    });
    expect(refused.statusCode).toBe(400);
  });

  it("lists a plugin's routes as the plugin's", async () => {
    const { tessera } = await makeEngine();
    await tessera.use({
      name: "membership",
      routes: [
        {
          method: "GET",
          path: "/membership/ping",
          handler: async () => ({ status: 200, body: { ok: true } }),
        },
      ],
    });
    const app = buildHttpApp({ tessera });
    await app.ready();
    try {
      const response = await app.inject({ method: "GET", url: "/openapi.json" });
      const document = body<Document>(response);
      expect(document.paths["/membership/ping"]?.get?.tags).toEqual(["plugins"]);
    } finally {
      await app.close();
      tessera.close();
    }
  });
});
