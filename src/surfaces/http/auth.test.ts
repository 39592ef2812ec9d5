import { describe, expect, it } from "vitest";
import { type AuthRequest, checkCsrf, extractCredential } from "./auth.js";
import { clearedSessionCookie, readCookie, sessionCookie } from "./cookies.js";

function request(headers: Record<string, string>, method = "GET", origin = "http://api.test"): AuthRequest {
  return { method, origin, header: (name) => headers[name] };
}

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    return (error as { code?: string }).code;
  }
  return undefined;
}

describe("extractCredential", () => {
  it("takes a Bearer token, with any capitalisation of the scheme", () => {
    expect(extractCredential(request({ authorization: "Bearer abc" }))).toEqual({
      source: "bearer",
      token: "abc",
    });
    expect(extractCredential(request({ authorization: "bearer abc" }))?.token).toBe("abc");
  });

  it("refuses another scheme or an empty Bearer instead of falling back to the cookie", () => {
    const cookie = "tessera_session=tss_x";
    expect(codeOf(() => extractCredential(request({ authorization: "Basic abc", cookie })))).toBe(
      "token_invalid",
    );
    expect(codeOf(() => extractCredential(request({ authorization: "Bearer ", cookie })))).toBe(
      "token_invalid",
    );
    expect(codeOf(() => extractCredential(request({ authorization: "Bearer a b", cookie })))).toBe(
      "token_invalid",
    );
  });

  it("falls back to the tessera_session cookie, and answers null when there is nothing", () => {
    expect(extractCredential(request({ cookie: "a=1; tessera_session=tss_abc; b=2" }))).toEqual({
      source: "cookie",
      token: "tss_abc",
    });
    expect(extractCredential(request({ cookie: "tessera_session=" }))).toBeNull();
    expect(extractCredential(request({}))).toBeNull();
  });
});

describe("checkCsrf", () => {
  const cookie = { source: "cookie", token: "t" } as const;

  it("lets safe methods and Bearer requests through", () => {
    expect(codeOf(() => checkCsrf(request({}, "GET"), cookie))).toBeUndefined();
    expect(codeOf(() => checkCsrf(request({}, "POST"), { source: "bearer", token: "t" }))).toBeUndefined();
  });

  it("refuses a cookie-authenticated change that a browser marks as coming from another site", () => {
    const evil = { origin: "http://evil.test" };
    expect(codeOf(() => checkCsrf(request(evil, "DELETE"), cookie))).toBe("forbidden");
    expect(codeOf(() => checkCsrf(request({ ...evil, "x-tessera-csrf": "" }, "PUT"), cookie))).toBe(
      "forbidden",
    );
    expect(codeOf(() => checkCsrf(request({ origin: "null" }, "POST"), cookie))).toBe("forbidden");
    expect(codeOf(() => checkCsrf(request({ "sec-fetch-site": "cross-site" }, "POST"), cookie))).toBe(
      "forbidden",
    );
    expect(codeOf(() => checkCsrf(request({ "sec-fetch-site": "same-site" }, "POST"), cookie))).toBe(
      "forbidden",
    );
    // An old browser without Origin still names the page in Referer.
    expect(codeOf(() => checkCsrf(request({ referer: "http://evil.test/form" }, "POST"), cookie))).toBe(
      "forbidden",
    );
    expect(codeOf(() => checkCsrf(request({ referer: "not a url" }, "POST"), cookie))).toBe("forbidden");
  });

  it("lets through a change with no browser signal at all: not a page's cross-site request", () => {
    expect(codeOf(() => checkCsrf(request({}, "POST"), cookie))).toBeUndefined();
  });

  it("accepts the header, Sec-Fetch-Site same-origin or none, the server's own origin, or a trusted origin", () => {
    expect(codeOf(() => checkCsrf(request({ "x-tessera-csrf": "1" }, "POST"), cookie))).toBeUndefined();
    expect(
      codeOf(() => checkCsrf(request({ "x-tessera-csrf": "1", origin: "http://evil.test" }, "POST"), cookie)),
    ).toBeUndefined();
    for (const site of ["same-origin", "none"]) {
      expect(codeOf(() => checkCsrf(request({ "sec-fetch-site": site }, "POST"), cookie))).toBeUndefined();
    }
    expect(codeOf(() => checkCsrf(request({ origin: "http://api.test" }, "POST"), cookie))).toBeUndefined();
    expect(
      codeOf(() => checkCsrf(request({ referer: "http://api.test/settings?tab=1" }, "POST"), cookie)),
    ).toBeUndefined();
    expect(
      codeOf(() =>
        checkCsrf(request({ origin: "https://app.test" }, "POST"), cookie, {
          trustedOrigins: ["https://app.test"],
        }),
      ),
    ).toBeUndefined();
  });
});

describe("cookies", () => {
  it("writes HttpOnly, SameSite=Lax, Path=/ and Secure only when asked", () => {
    const plain = sessionCookie("tss_abc", { secure: false, expires: new Date(0) });
    expect(plain).toBe(
      "tessera_session=tss_abc; Path=/; HttpOnly; SameSite=Lax; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
    );
    expect(sessionCookie("tss_abc", { secure: true })).toMatch(/; Secure$/);
    expect(clearedSessionCookie({ secure: false })).toMatch(/^tessera_session=; /);
  });

  it("reads the first matching cookie, quoted or encoded", () => {
    expect(readCookie('x=1; tessera_session="tss_a"; tessera_session=tss_b', "tessera_session")).toBe(
      "tss_a",
    );
    expect(readCookie("tessera_session=a%2Bb", "tessera_session")).toBe("a+b");
    expect(readCookie("tessera_sessionx=a", "tessera_session")).toBeUndefined();
    expect(readCookie(undefined, "tessera_session")).toBeUndefined();
  });
});
