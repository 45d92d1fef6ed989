// The analytics charts: each <canvas data-chart="ID"> is drawn from the JSON in
// <script type="application/json" id="ID"> (labels already in the page language). The table
// beside each chart is its accessible version; the canvas carries a summary as aria-label.
(function () {
  "use strict";

  var PALETTE = ["#0b5cab", "#c2410c", "#1d7a46", "#a16207", "#6d28d9", "#b42318", "#52606d",
                 "#0e7490", "#be185d", "#4d7c0f"];
  var reduced = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;

  function withUnit(value, spec) {
    if (value === null || value === undefined) { return "—"; }
    if (spec.unit === "pct") { return value + "%"; }
    if (spec.unit === "min") { return value + " " + spec.unitLabel; }
    return String(value);
  }

  function config(spec) {
    var doughnut = spec.type === "doughnut";
    var datasets = spec.datasets.map(function (d, i) {
      var set = { label: d.label, data: d.data, borderWidth: doughnut ? 2 : 0 };
      if (doughnut) {
        set.backgroundColor = spec.labels.map(function (_, j) { return PALETTE[j % PALETTE.length]; });
        set.borderColor = "#fff";
      } else {
        set.backgroundColor = PALETTE[i % PALETTE.length];
        set.borderRadius = 4;
        set.maxBarThickness = 36;
      }
      return set;
    });
    var options = {
      responsive: true,
      maintainAspectRatio: false,
      animation: reduced ? false : { duration: 300 },
      plugins: {
        legend: { display: doughnut || datasets.length > 1, position: "bottom" },
        tooltip: {
          callbacks: {
            label: function (ctx) {
              var value = doughnut ? ctx.parsed : (spec.type === "hbar" ? ctx.parsed.x : ctx.parsed.y);
              return (ctx.dataset.label ? ctx.dataset.label + ": " : "") + withUnit(value, spec);
            }
          }
        }
      }
    };
    if (!doughnut) {
      var valueAxis = {
        beginAtZero: true,
        stacked: spec.type === "stacked",
        ticks: { callback: function (v) { return withUnit(v, spec); }, precision: spec.unit ? undefined : 0 }
      };
      if (spec.unit === "pct") { valueAxis.suggestedMax = 100; }
      var labelAxis = { stacked: spec.type === "stacked", ticks: { autoSkip: false } };
      if (spec.type === "hbar") {
        options.indexAxis = "y";
        options.scales = { x: valueAxis, y: labelAxis };
      } else {
        options.scales = { x: labelAxis, y: valueAxis };
      }
    }
    return { type: doughnut ? "doughnut" : "bar", data: { labels: spec.labels, datasets: datasets }, options: options };
  }

  function draw() {
    if (!window.Chart) { return; }
    Chart.defaults.font.family = getComputedStyle(document.documentElement).fontFamily;
    Chart.defaults.font.size = 13;
    Chart.defaults.color = "#1f2933";
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var source = document.getElementById(canvas.dataset.chart);
      if (!source) { return; }
      var spec = JSON.parse(source.textContent);
      if (!spec) { return; }
      if (spec.type === "hbar") {
        canvas.parentElement.style.height = Math.max(200, 60 + 34 * spec.labels.length) + "px";
      }
      new Chart(canvas, config(spec));
      canvas.dataset.drawn = "true";
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
