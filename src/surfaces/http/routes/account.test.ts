import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { body, errorCode, httpLogin, makeApp, type TestApp } from "../../../../test/http-kit.js";
import type { PublicUser, Session } from "../../../engine/types.js";
import { PAGE_CSP } from "../account/html.js";

let t: TestApp;
beforeEach(async () => {
  t = await makeApp({}, { corsOrigins: ["https://app.example"] });
});
afterEach(async () => {
  await t.close();
});

const HTML = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
const SAFARI_IPHONE =
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1";

/** Signs in through the form and returns the session cookie. */
async function formSignIn(username: string, password: string, extra: Record<string, string> = {}) {
  const response = await t.app.inject({
    method: "POST",
    url: "/account/sign-in",
    headers: { "content-type": "application/x-www-form-urlencoded", accept: HTML, ...extra },
    payload: new URLSearchParams({
      username,
      password,
      return: "/account/sessions",
      deviceName: "Phone",
    }).toString(),
  });
  const cookie = String(response.headers["set-cookie"] ?? "").split(";")[0] ?? "";
  return { response, cookie };
}

describe("the sign-in form", () => {
  it("is a page with the strict CSP, and its post sets the cookie and returns 303 to a safe path", async () => {
    const page = await t.app.inject({ method: "GET", url: "/account/sign-in?return=//evil.example/x" });
    expect(page.statusCode).toBe(200);
    expect(page.headers["content-security-policy"]).toBe(PAGE_CSP);
    expect(page.body).toContain('name="return" value="/account/sessions"');
    expect(page.body).not.toMatch(/<script>|style=/);

    const { username, password } = await httpLogin(t.app);
    const { response, cookie } = await formSignIn(username, password);
    expect(response.statusCode).toBe(303);
    expect(response.headers.location).toBe("/account/sessions");
    expect(cookie).toMatch(/^tessera_session=tss_/);
    expect(String(response.headers["set-cookie"])).toContain("HttpOnly");
  });

  it("shows the form again with the reason and code on a wrong password, status 401", async () => {
    const { username } = await httpLogin(t.app);
    const { response, cookie } = await formSignIn(username, "wrong-password");
    expect(response.statusCode).toBe(401);
    expect(cookie).toBe("");
    expect(response.headers["content-type"]).toContain("text/html");
    expect(response.body).toContain("<code>invalid_credentials</code>");
    expect(response.body).toContain(`value="${username}"`);
  });

  it("refuses a form post that another site's page sent (login CSRF)", async () => {
    const { username, password } = await httpLogin(t.app);
    const { response, cookie } = await formSignIn(username, password, { origin: "https://evil.example" });
    expect(response.statusCode).toBe(403);
    expect(cookie).toBe("");
    expect(response.body).toContain("<code>forbidden</code>");
  });

  it("answers the SDK's JSON sign-in with {session, user} and the cookie, no token in the body", async () => {
    const { username, password } = await httpLogin(t.app);
    const response = await t.app.inject({
      method: "POST",
      url: "/account/sign-in",
      payload: { username, password, deviceName: "Laptop" },
    });
    expect(response.statusCode).toBe(200);
    const answer = body<{ session: Session; user: PublicUser }>(response);
    expect(answer.user.username).toBe(username);
    expect(answer.session.tokenType).toBe("session");
    expect(answer.session.deviceName).toBe("Laptop");
    expect(response.body).not.toMatch(/tss_|tsr_/);
    expect(String(response.headers["set-cookie"])).toMatch(/^tessera_session=tss_/);
  });
});

describe("GET /account/sessions", () => {
  it("sends a signed-out browser to sign in (303) and a JSON client a 401", async () => {
    const browser = await t.app.inject({
      method: "GET",
      url: "/account/sessions",
      headers: { accept: HTML },
    });
    expect(browser.statusCode).toBe(303);
    expect(browser.headers.location).toBe("/account/sign-in?return=%2Faccount%2Fsessions");
    const json = await t.app.inject({ method: "GET", url: "/account/sessions" });
    expect(json.statusCode).toBe(401);
    expect(errorCode(json)).toBe("token_invalid");
  });

  it("lists this device first and marked, with browser, OS, device class, name and IP", async () => {
    const { username, password } = await httpLogin(t.app);
    const phone = await formSignIn(username, password, { "user-agent": SAFARI_IPHONE });
    const page = await t.app.inject({
      method: "GET",
      url: "/account/sessions",
      headers: { accept: HTML, cookie: phone.cookie, "user-agent": SAFARI_IPHONE },
    });
    expect(page.statusCode).toBe(200);
    expect(page.headers["content-security-policy"]).toBe(PAGE_CSP);
    const items = page.body.split('<li class="session').slice(1);
    expect(items).toHaveLength(2);
    expect(items[0]).toContain("This device");
    expect(items[0]).toContain("Safari 17.2 on iOS 17.2");
    expect(items[0]).toContain("Phone · Phone");
    expect(items[0]).toContain("127.0.0.1");
    expect(items[1]).not.toContain("This device");
    expect(items[1]).toContain('data-action="revoke"');
    expect(page.body).toContain('<script src="/account/assets/sessions.js" defer></script>');
    expect(page.body).not.toMatch(/<script>|style=|onclick/);
  });

  it("serves its script and stylesheet from this origin", async () => {
    const js = await t.app.inject({ method: "GET", url: "/account/assets/sessions.js" });
    expect(js.headers["content-type"]).toContain("text/javascript");
    expect(js.body).toContain("/auth/logout-all");
    const css = await t.app.inject({ method: "GET", url: "/account/assets/account.css" });
    expect(css.headers["content-type"]).toContain("text/css");
  });
});

describe("GET /account/sessions/activity", () => {
  it("answers the page's list with its next cursor; a signed-out or malformed request gets the contract's errors", async () => {
    const { username, password } = await httpLogin(t.app);
    const phone = await formSignIn(username, password, { "user-agent": SAFARI_IPHONE });
    const page = await t.app.inject({
      method: "GET",
      url: "/account/sessions",
      headers: { accept: HTML, cookie: phone.cookie },
    });
    expect(page.body).toContain('<section id="activity"');
    expect(page.body).toContain('data-action="more-activity" hidden');
    const fragment = await t.app.inject({
      method: "GET",
      url: "/account/sessions/activity",
      headers: { cookie: phone.cookie },
    });
    expect(fragment.statusCode).toBe(200);
    expect(fragment.headers["content-type"]).toContain("text/html");
    expect(fragment.headers["cache-control"]).toBe("no-store");
    expect(fragment.body).toMatch(/^<ol class="events" aria-labelledby="activity-title">/);
    // Two sign-ins, the phone's from a new device: one entry each.
    expect(fragment.body.match(/<li /g)).toHaveLength(2);
    expect(fragment.body).toContain("Sign-in from a new device");

    const signedOut = await t.app.inject({ method: "GET", url: "/account/sessions/activity" });
    expect(signedOut.statusCode).toBe(401);
    expect(errorCode(signedOut)).toBe("token_invalid");
    for (const query of ["before=%3Cscript%3E", "limit=5", "kind=login_failed"]) {
      const bad = await t.app.inject({
        method: "GET",
        url: `/account/sessions/activity?${query}`,
        headers: { cookie: phone.cookie },
      });
      expect(bad.statusCode, query).toBe(400);
      expect(errorCode(bad)).toBe("invalid_request");
    }
  });
});

describe("POST /auth/logout-all with keepCurrent", () => {
  it("ends every other session and keeps the caller's", async () => {
    const { username, password } = await httpLogin(t.app);
    const mine = await formSignIn(username, password);
    const response = await t.app.inject({
      method: "POST",
      url: "/auth/logout-all",
      headers: { cookie: mine.cookie, "x-tessera-csrf": "1" },
      payload: { keepCurrent: true },
    });
    expect(response.statusCode).toBe(204);
    expect(response.headers["set-cookie"]).toBeUndefined();
    const list = await t.app.inject({
      method: "GET",
      url: "/auth/sessions",
      headers: { cookie: mine.cookie },
    });
    expect(body<{ sessions: Session[] }>(list).sessions).toHaveLength(1);
  });
});

describe("HTML error pages", () => {
  it("a browser opening a used link reads a page with status 410 and the code; JSON clients keep JSON", async () => {
    const { pair } = await httpLogin(t.app);
    const issued = await t.app.inject({
      method: "POST",
      url: "/auth/links",
      headers: { authorization: `Bearer ${pair.accessToken}` },
      payload: {},
    });
    const path = new URL(body<{ url: string }>(issued).url).pathname;
    const first = await t.app.inject({ method: "GET", url: path, headers: { accept: HTML } });
    expect(first.statusCode).toBe(302);
    expect(first.headers.location).toBe("/account/sessions");
    const again = await t.app.inject({ method: "GET", url: path, headers: { accept: HTML } });
    expect(again.statusCode).toBe(410);
    expect(again.headers["content-type"]).toContain("text/html");
    expect(again.headers["content-security-policy"]).toBe(PAGE_CSP);
    expect(again.body).toContain("<code>link_used</code>");
    const curl = await t.app.inject({ method: "GET", url: path, headers: { accept: "*/*" } });
    expect(curl.statusCode).toBe(410);
    expect(errorCode(curl)).toBe("link_used");
  });

  it("a browser on an unknown page reads a 404 page; an API client gets the JSON 404", async () => {
    const page = await t.app.inject({ method: "GET", url: "/checkout", headers: { accept: HTML } });
    expect(page.statusCode).toBe(404);
    expect(page.body).toContain("<code>not_found</code>");
    const api = await t.app.inject({ method: "GET", url: "/checkout" });
    expect(errorCode(api)).toBe("not_found");
    const apiRoute = await t.app.inject({ method: "GET", url: "/auth/session", headers: { accept: HTML } });
    expect(errorCode(apiRoute)).toBe("token_invalid");
  });
});

describe("CORS (--cors-origins)", () => {
  it("answers an allowlisted origin with its own origin and credentials, never a wildcard", async () => {
    const response = await t.app.inject({
      method: "GET",
      url: "/healthz",
      headers: { origin: "https://app.example" },
    });
    expect(response.headers["access-control-allow-origin"]).toBe("https://app.example");
    expect(response.headers["access-control-allow-credentials"]).toBe("true");
    expect(response.headers.vary).toContain("Origin");
  });

  it("answers preflights for allowlisted origins only; others get 403 and no CORS headers", async () => {
    const preflight = (origin: string) =>
      t.app.inject({
        method: "OPTIONS",
        url: "/auth/refresh",
        headers: {
          origin,
          "access-control-request-method": "POST",
          "access-control-request-headers": "content-type",
        },
      });
    const allowed = await preflight("https://app.example");
    expect(allowed.statusCode).toBe(204);
    expect(allowed.headers["access-control-allow-origin"]).toBe("https://app.example");
    expect(allowed.headers["access-control-allow-methods"]).toContain("POST");
    expect(String(allowed.headers["access-control-allow-headers"])).not.toContain("x-tessera-csrf");
    const refused = await preflight("https://evil.example");
    expect(refused.statusCode).toBe(403);
    expect(errorCode(refused)).toBe("forbidden");
    expect(refused.headers["access-control-allow-origin"]).toBeUndefined();
    const other = await t.app.inject({
      method: "GET",
      url: "/healthz",
      headers: { origin: "https://evil.example" },
    });
    expect(other.headers["access-control-allow-origin"]).toBeUndefined();
  });

  it("keeps the cross-site rule: an allowlisted origin changes state with Bearer, not with the cookie", async () => {
    const { username, password, pair } = await httpLogin(t.app);
    const { cookie } = await formSignIn(username, password);
    const withCookie = await t.app.inject({
      method: "POST",
      url: "/auth/logout",
      headers: { cookie, origin: "https://app.example" },
    });
    expect(withCookie.statusCode).toBe(403);
    const withBearer = await t.app.inject({
      method: "POST",
      url: "/auth/logout",
      headers: { authorization: `Bearer ${pair.accessToken}`, origin: "https://app.example" },
    });
    expect(withBearer.statusCode).toBe(204);
  });
});
