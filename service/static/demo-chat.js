/* The demo page's chat box: POST /v1/chat per message; replies are placed as text, never HTML. */
(function () {
  "use strict";
  var data = document.currentScript.dataset;
  var labels = JSON.parse(data.labels || "{}");
  var endpoint = (data.kairosEndpoint || location.origin).replace(/\/+$/, "");
  var form = document.getElementById("chat-form");
  var log = document.getElementById("chat-log");
  var quick = document.getElementById("chat-quick");
  if (!form) { return; }

  function sessionId() {
    try {
      var id = sessionStorage.getItem("kairos.session");
      if (!id) { id = "s-" + Math.random().toString(36).slice(2); sessionStorage.setItem("kairos.session", id); }
      return id;
    } catch (e) { return "s-demo"; }
  }
  function line(who, text, cls, meta) {
    var item = document.createElement("li");
    item.className = cls;
    var name = document.createElement("strong");
    name.textContent = who + ": ";
    item.appendChild(name);
    item.appendChild(document.createTextNode(text));
    if (meta) {
      var small = document.createElement("small");
      small.textContent = meta;
      item.appendChild(small);
    }
    log.appendChild(item);
    log.scrollTop = log.scrollHeight;
    return item;
  }
  function send(message) {
    line(labels.you, message, "chat-you");
    quick.replaceChildren();
    var headers = { "Content-Type": "application/json", "X-API-Key": data.kairosKey };
    // a logged-in customer: the identity the shop signed (never a profile_id of its own)
    if (data.kairosIdentity) { headers["X-Kairos-Identity"] = data.kairosIdentity; }
    return fetch(endpoint + "/v1/chat", {
      method: "POST",
      headers: headers,
      body: JSON.stringify({ session_id: sessionId(), message: message, channel: "chat", lang: data.kairosLang,
                             context: { url: location.href, referrer: document.referrer || undefined } })
    }).then(function (response) {
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.json();
    }).then(function (answer) {
      var meta = answer.out_of_scope ? "out of scope" :
        answer.intent + " · " + answer.phase + "/" + answer.moment + (answer.inherited ? " · follow-up" : "");
      var reply = line(labels.bot, answer.reply ? answer.reply.text : "…", "chat-bot", meta);
      reply.setAttribute("data-intent", answer.intent);
      if (answer.next_action && answer.next_action.type === "human_handover") {
        line(labels.bot, labels.handover, "chat-handover");
      }
      (answer.quick_replies || []).forEach(function (text) {
        var button = document.createElement("button");
        button.type = "button";
        button.textContent = text;
        button.addEventListener("click", function () { send(text); });
        quick.appendChild(button);
      });
    }).catch(function () { line(labels.bot, labels.error, "chat-error"); });
  }
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var input = form.elements.message;
    var message = input.value.trim();
    if (message) { input.value = ""; send(message); }
  });
})();
