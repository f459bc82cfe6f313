/*! Kairos website snippet: fills [data-kairos-slot] elements with the content Kairos decides.
 *
 * <script src="https://kairos.example/static/kairos.js" defer
 *         data-kairos-key="SITE_KEY"                  (required: the public site key)
 *         data-kairos-endpoint="https://kairos.example" (default: where this script came from)
 *         data-kairos-timeout="1500"                  (ms; after that the page keeps its content)
 *         data-kairos-profile="p-123"                 (optional: a known, consenting visitor)
 *         data-kairos-lang="de"></script>             (default: <html lang>)
 * <div data-kairos-slot="hero">default content, kept when Kairos is slow or down</div>
 *
 * One POST /v1/decide per page with the page context (referrer, URL, languages, time zone; the
 * User-Agent is read by the server). Each filled slot reports an impression and its clicks to
 * /v1/feedback. Events: "kairos:decision" (detail: the decision) and "kairos:fallback" (detail:
 * the reason) on document. window.Kairos.ready resolves with the decision or null.
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

  function post(path, body, extra) {
    var init = {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-API-Key": key },
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
    var body = { session_id: sessionId(), slots: slots, context: context };
    if (data.kairosProfile) { body.profile_id = data.kairosProfile; }
    var lang = pageLang();
    if (lang) { body.lang = lang; }

    var controller = typeof AbortController === "function" ? new AbortController() : null;
    var timer = null;
    var late = new Promise(function (resolve) {
      timer = setTimeout(function () { if (controller) { controller.abort(); } resolve("timeout"); }, timeout);
    });
    var answer = post("/v1/decide", body, controller ? { signal: controller.signal } : {})
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
  window.Kairos = { ready: ready, feedback: feedback };
})();
