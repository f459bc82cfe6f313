/*! Kairos website snippet: fills [data-kairos-slot] elements with the content Kairos decides.
 *
 * <script src="https://kairos.example/static/kairos.js" defer
 *         data-kairos-key="SITE_KEY"                  (required: the public site key)
 *         data-kairos-endpoint="https://kairos.example" (default: where this script came from)
 *         data-kairos-timeout="1500"                  (ms; after that the page keeps its content)
 *         data-kairos-identity="TOKEN"                (optional: the logged-in customer, signed
 *                                                      by the shop's server; see the README)
 *         data-kairos-lang="de"></script>             (default: <html lang>)
 * <div data-kairos-slot="hero">default content, kept when Kairos is slow or down</div>
 *
 * One POST /v1/decide per page with the page context (referrer, URL, languages, time zone; the
 * User-Agent is read by the server) and the visitor's anonymous id: a random id kept in the
 * first-party cookie "kairos_aid" (one year, SameSite=Lax). A known customer is named only by
 * the signed identity token (header X-Kairos-Identity); when it is refused (expired), the page
 * asks again as the anonymous visitor. Each filled slot reports an impression and its clicks to
 * /v1/feedback. Events: "kairos:decision" (detail: the decision) and "kairos:fallback" (detail:
 * the reason) on document. window.Kairos.ready resolves with the decision or null;
 * window.Kairos.anonymousId and window.Kairos.identity are what this page sends.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) { return; }
  var data = script.dataset;
  var key = data.kairosKey || "";
  var endpoint = (data.kairosEndpoint || new URL(script.src, location.href).origin).replace(/\/+$/, "");
  var timeout = parseInt(data.kairosTimeout || "1500", 10);
  if (!(timeout > 0)) { timeout = 1500; }
  var identity = data.kairosIdentity || "";
  var COOKIE = "kairos_aid";

  function randomId() {
    var bytes = new Uint8Array(16);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    return "a-" + Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join("");
  }

  function anonymousId() {
    var found = document.cookie.split("; ").filter(function (c) { return c.indexOf(COOKIE + "=") === 0; })[0];
    var id = found ? decodeURIComponent(found.slice(COOKIE.length + 1)) : "";
    if (!/^[A-Za-z0-9._:@-]{1,128}$/.test(id)) { id = randomId(); }
    // (re)written on every page: one year after the last visit
    document.cookie = COOKIE + "=" + id + "; Max-Age=31536000; Path=/; SameSite=Lax" +
      (location.protocol === "https:" ? "; Secure" : "");
    return id;
  }
  var visitor = anonymousId();

  function sessionId() {
    var name = "kairos.session";
    try {
      var known = sessionStorage.getItem(name);
      if (known) { return known; }
      var fresh = "s-" + Math.random().toString(36).slice(2) + Date.now().toString(36);
      sessionStorage.setItem(name, fresh);
      return fresh;
    } catch (e) {
      return "s-" + Math.random().toString(36).slice(2) + Date.now().toString(36);
    }
  }

  function acceptLanguage() {
    var langs = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || ""];
    return langs.filter(Boolean).slice(0, 6).map(function (lang, i) {
      return i === 0 ? lang : lang + ";q=" + Math.max(0.1, 1 - i * 0.1).toFixed(1);
    }).join(",");
  }

  function timezone() {
    try { return Intl.DateTimeFormat().resolvedOptions().timeZone || undefined; } catch (e) { return undefined; }
  }

  function pageLang() {
    var lang = (data.kairosLang || document.documentElement.lang || "").slice(0, 2).toLowerCase();
    return /^[a-z]{2}$/.test(lang) ? lang : undefined;
  }

  function post(path, body, extra, anonymous) {
    var headers = { "Content-Type": "application/json", "X-API-Key": key };
    if (identity && !anonymous) { headers["X-Kairos-Identity"] = identity; }
    var init = {
      method: "POST",
      headers: headers,
      body: JSON.stringify(body),
      credentials: "omit",
      mode: "cors"
    };
    for (var k in extra || {}) { init[k] = extra[k]; }
    return fetch(endpoint + path, init);
  }

  function feedback(decisionId, itemId, event) {
    return post("/v1/feedback", { decision_id: decisionId, item_id: itemId, event: event }, { keepalive: true })
      .catch(function () { /* feedback is best effort */ });
  }

  function fill(element, placed, decisionId) {
    if (placed.html != null) {
      element.innerHTML = placed.html;  // rendered by Kairos in its sandbox, autoescaped
    } else if (placed.text != null) {
      element.textContent = placed.text;
    } else {
      return false;
    }
    element.setAttribute("data-kairos-item", placed.item_id);
    element.setAttribute("data-kairos-decision", decisionId);
    element.setAttribute("data-kairos-filled", "true");
    var clicked = false;
    element.addEventListener("click", function () {
      if (clicked) { return; }
      clicked = true;
      feedback(decisionId, placed.item_id, "click");
    });
    feedback(decisionId, placed.item_id, "impression");
    return true;
  }

  function fallback(elements, reason) {
    elements.forEach(function (el) { el.setAttribute("data-kairos-filled", "false"); });
    document.dispatchEvent(new CustomEvent("kairos:fallback", { detail: reason }));
    return null;
  }

  function run() {
    var elements = Array.prototype.slice.call(document.querySelectorAll("[data-kairos-slot]"));
    var slots = [];
    elements.forEach(function (el) {
      var slot = el.getAttribute("data-kairos-slot");
      if (slot && slots.indexOf(slot) < 0) { slots.push(slot); }
    });
    if (!slots.length || !key) { return Promise.resolve(fallback(elements, key ? "no slots" : "no site key")); }
    var context = { url: location.href, accept_language: acceptLanguage() };
    if (document.referrer) { context.referrer = document.referrer; }
    var tz = timezone();
    if (tz) { context.timezone = tz; }
    var body = { session_id: sessionId(), anonymous_id: visitor, slots: slots, context: context };
    var lang = pageLang();
    if (lang) { body.lang = lang; }

    var controller = typeof AbortController === "function" ? new AbortController() : null;
    var timer = null;
    var late = new Promise(function (resolve) {
      timer = setTimeout(function () { if (controller) { controller.abort(); } resolve("timeout"); }, timeout);
    });
    var signal = controller ? { signal: controller.signal } : {};
    var answer = post("/v1/decide", body, signal)
      .then(function (response) {
        if (response.status === 401 && identity) {  // an expired identity: ask as the visitor
          identity = "";
          return post("/v1/decide", body, signal, true);
        }
        return response;
      })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      });
    return Promise.race([answer, late]).then(function (decision) {
      clearTimeout(timer);
      if (decision === "timeout") { return fallback(elements, "timeout"); }
      elements.forEach(function (el) {
        var placed = (decision.slots || {})[el.getAttribute("data-kairos-slot")] || [];
        if (!placed.length || !fill(el, placed[0], decision.decision_id)) {
          el.setAttribute("data-kairos-filled", "false");
        }
      });
      document.dispatchEvent(new CustomEvent("kairos:decision", { detail: decision }));
      return decision;
    }, function (error) {
      clearTimeout(timer);
      return fallback(elements, String(error && error.message || error));
    });
  }

  var ready = new Promise(function (resolve) {
    function start() { run().then(resolve, function () { resolve(null); }); }
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", start);
    } else {
      start();
    }
  });
  window.Kairos = { ready: ready, feedback: feedback, anonymousId: visitor, identity: identity };
})();
