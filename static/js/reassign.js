// Reassigning customers: the chosen consultant's load after the move, as the choices change.
// The texts come translated in data-text-after and data-text-over on #load-after.
// Loaded with defer: the page is parsed when this runs.
(function () {
  "use strict";

  var form = document.getElementById("reassign-form");
  var out = document.getElementById("load-after");
  if (!form || !out) { return; }
  var texts = { after: out.dataset.textAfter || "", over: out.dataset.textOver || "" };
  function update() {
    var target = form.querySelector("input[name=to]:checked");
    if (!target || !target.dataset.load) { out.textContent = ""; return; }
    var moving = 0;
    form.querySelectorAll("input[name=opportunity]:checked").forEach(function (c) { moving += parseInt(c.dataset.counts, 10); });
    var load = parseInt(target.dataset.load, 10) + moving, cap = parseInt(target.dataset.cap, 10);
    out.textContent = texts.after.replace("{name}", target.dataset.name).replace("{load}", load).replace("{cap}", cap);
    if (load > cap) {
      var warn = document.createElement("strong");
      warn.className = "late";
      warn.textContent = " " + texts.over;
      out.appendChild(warn);
    }
  }
  var all = form.querySelector("[data-check-all]");
  if (all) {
    all.addEventListener("change", function () {
      form.querySelectorAll("input[name=opportunity]").forEach(function (c) { c.checked = all.checked; });
      update();
    });
  }
  form.addEventListener("change", update);
})();
