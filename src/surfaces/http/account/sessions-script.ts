/**
 * The sessions page's script, served as `/account/assets/sessions.js` (the CSP allows no
 * inline script). Plain ES2020 for any current browser, no framework. It turns the page's
 * buttons into the JSON routes' calls — `DELETE /auth/sessions/:id`, `POST /auth/logout-all`
 * with `keepCurrent`, `POST /auth/logout` — each after a confirmation, with the session
 * cookie and the `X-Tessera-CSRF` header (same-origin `fetch` sends `Origin` and
 * `Sec-Fetch-Site: same-origin` too, so the cross-site rule lets it through and another
 * site's page cannot). Results are announced in a live region and focus moves to it, so a
 * keyboard or screen-reader user knows what happened. Absolute times get the reader's
 * local format on hover.
 *
 * "Recent activity": its times are shown in the reader's locale and time zone; "Show more
 * activity" fetches the next page from `/account/sessions/activity?before=<cursor>` (HTML the
 * server rendered and escaped, parsed with `DOMParser`, which runs nothing) and moves focus to
 * the first new entry; after a revocation the first page is fetched again, so the ended
 * session shows at the top.
 */
export const SESSIONS_JS = `(function () {
  "use strict";
  var status = document.getElementById("status");
  var signIn = "/account/sign-in?return=" + encodeURIComponent("/account/sessions");

  function say(text) {
    status.textContent = text;
    status.focus();
  }

  document.querySelectorAll("time[datetime]:not([data-local])").forEach(function (time) {
    var date = new Date(time.getAttribute("datetime"));
    if (!isNaN(date.getTime())) time.title = date.toLocaleString();
  });

  function localTimes(root) {
    root.querySelectorAll("time[data-local]").forEach(function (time) {
      var date = new Date(time.getAttribute("datetime"));
      if (!isNaN(date.getTime())) {
        time.textContent = date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
      }
    });
  }
  localTimes(document);

  function call(method, path, body) {
    var headers = { accept: "application/json", "x-tessera-csrf": "1" };
    if (body !== undefined) headers["content-type"] = "application/json";
    return fetch(path, {
      method: method,
      credentials: "same-origin",
      headers: headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then(function (response) {
      if (response.ok) return response;
      return response.json().then(
        function (answer) { return answer && answer.error ? answer.error.code : "HTTP " + response.status; },
        function () { return "HTTP " + response.status; }
      ).then(function (code) {
        if (response.status === 401) location.assign(signIn);
        throw new Error(code);
      });
    });
  }

  function nameOf(item) {
    var title = item && item.querySelector("h2");
    return title ? title.textContent.trim() : "this session";
  }

  function refreshOthers() {
    var others = document.querySelectorAll(".session:not(.current)").length;
    var block = document.getElementById("others");
    if (block && others === 0) {
      block.querySelector("button").hidden = true;
      block.querySelector(".none").hidden = false;
    }
  }

  var activity = document.getElementById("activity-list");
  var more = document.querySelector("button[data-action=more-activity]");

  /** A page of activity (the first, or the one after the cursor): its entries, ready to insert. */
  function loadActivity(before) {
    var query = before ? "?before=" + encodeURIComponent(before) : "";
    return call("GET", "/account/sessions/activity" + query)
      .then(function (response) { return response.text(); })
      .then(function (html) {
        var list = new DOMParser().parseFromString(html, "text/html").querySelector("ol");
        if (!list) throw new Error("unreadable answer");
        localTimes(list);
        var next = list.getAttribute("data-next");
        if (next) more.setAttribute("data-before", next);
        else more.removeAttribute("data-before");
        more.hidden = !next;
        return Array.prototype.slice.call(list.children);
      });
  }

  function refreshActivity() {
    if (!activity) return;
    loadActivity(null).then(
      function (items) {
        activity.replaceChildren.apply(activity, items);
        document.querySelector(".activity-none").hidden = items.length > 0;
      },
      function () {} // the list stays as it was; a reload shows the rest
    );
  }

  function busy(button, on) {
    button.disabled = on;
    button.setAttribute("aria-busy", on ? "true" : "false");
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[data-action]");
    if (!button) return;
    var action = button.getAttribute("data-action");
    var item = button.closest(".session");
    if (action === "revoke") {
      var name = nameOf(item);
      if (!window.confirm("Sign out " + name + "? That device will have to sign in again.")) return;
      busy(button, true);
      call("DELETE", "/auth/sessions/" + encodeURIComponent(button.getAttribute("data-session-id"))).then(
        function () { item.remove(); refreshOthers(); say("Signed out " + name + "."); refreshActivity(); },
        function (error) { busy(button, false); say("Could not sign out " + name + " (" + error.message + ")."); }
      );
    } else if (action === "revoke-others") {
      var count = document.querySelectorAll(".session:not(.current)").length;
      if (!window.confirm("Sign out all " + count + " other sessions? Only this device stays signed in.")) return;
      busy(button, true);
      call("POST", "/auth/logout-all", { keepCurrent: true }).then(
        function () {
          document.querySelectorAll(".session:not(.current)").forEach(function (other) { other.remove(); });
          busy(button, false);
          refreshOthers();
          say("Signed out all other sessions. Only this device is signed in.");
          refreshActivity();
        },
        function (error) { busy(button, false); say("Could not sign out the other sessions (" + error.message + ")."); }
      );
    } else if (action === "more-activity") {
      busy(button, true);
      loadActivity(button.getAttribute("data-before")).then(
        function (items) {
          items.forEach(function (entry) { activity.appendChild(entry); });
          busy(button, false);
          if (items.length > 0) {
            items[0].tabIndex = -1;
            items[0].focus();
          }
        },
        function (error) { busy(button, false); say("Could not load more activity (" + error.message + ")."); }
      );
    } else if (action === "sign-out") {
      if (!window.confirm("Sign out of this device?")) return;
      busy(button, true);
      call("POST", "/auth/logout").then(
        function () { location.assign("/account/sign-in"); },
        function (error) { busy(button, false); say("Could not sign out (" + error.message + ")."); }
      );
    }
  });
})();
`;
