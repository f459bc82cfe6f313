/* The demo page's "why am I seeing this" panel: lists the decision's reasons (as text, never HTML). */
(function () {
  "use strict";
  var labels = JSON.parse(document.currentScript.dataset.labels || "{}");
  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text != null) { node.textContent = text; }
    if (cls) { node.className = cls; }
    return node;
  }
  function named(value) {
    return value ? value.name + " (" + Math.round(value.confidence * 100) + " %)" : labels.unknown;
  }
  document.addEventListener("kairos:decision", function (event) {
    var d = event.detail, body = document.getElementById("why-body");
    body.replaceChildren();
    var facts = el("dl", null, "facts");
    [[labels.device, d.situation.device], [labels.source, d.situation.medium + (d.situation.search_term ? " – " + d.situation.search_term : "")],
     [labels.language, d.situation.language || labels.unknown], [labels.phase, named(d.phase)],
     [labels.moment, named(d.moment)], [labels.lifecycle, d.lifecycle]].forEach(function (pair) {
      facts.appendChild(el("dt", pair[0])); facts.appendChild(el("dd", pair[1]));
    });
    body.appendChild(facts);
    if (d.in_control_group) { body.appendChild(el("p", labels.control, "muted")); }
    Object.keys(d.slots).forEach(function (slot) {
      var section = el("section", null, "why-slot");
      section.setAttribute("data-why-slot", slot);
      var placed = d.slots[slot][0];
      section.appendChild(el("h4", labels.slot + ": " + slot));
      if (!placed) { section.appendChild(el("p", labels.none, "muted")); body.appendChild(section); return; }
      section.appendChild(el("p", labels.item + ": " + placed.item_id + " · " + labels.score + " " + placed.score.toFixed(3)));
      var list = el("ul");
      placed.reasons.forEach(function (reason) { list.appendChild(el("li", reason)); });
      section.appendChild(list);
      body.appendChild(section);
    });
  });
  document.addEventListener("kairos:fallback", function () {
    var body = document.getElementById("why-body");
    body.replaceChildren(el("p", labels.fallback, "muted"));
  });
})();
