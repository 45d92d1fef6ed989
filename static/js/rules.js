// The scoring rules: the highest possible score, added up again as the points change.
// Loaded with defer: the page is parsed when this runs.
(function () {
  "use strict";

  var form = document.getElementById("scoring-form");
  var out = document.getElementById("max-total");
  if (!form || !out) { return; }
  function total() {
    var sum = 0;
    form.querySelectorAll("[data-indicator]").forEach(function (ind) {
      var best = 0;
      ind.querySelectorAll("[data-points]").forEach(function (input) {
        var v = parseInt(input.value, 10);
        if (!isNaN(v) && String(v) === input.value.trim() && v > best) { best = v; }
      });
      sum += best;
    });
    out.textContent = sum;
  }
  form.addEventListener("input", function (e) { if (e.target.hasAttribute("data-points")) { total(); } });
})();
