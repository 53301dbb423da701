/* Draws every <canvas data-chart="ID"> from the JSON in <script id="ID" type="application/json">:
   {title, x, y, labels, series: [{label, data}]} — a titled chart with axis labels and a legend. */
(function () {
  "use strict";
  var palette = ["#1f5fa8", "#b3261e", "#1e7d4f", "#b26a00", "#6b4fa8", "#2c8c99"];
  function draw(canvas) {
    var spec = JSON.parse(document.getElementById(canvas.dataset.chart).textContent);
    var kind = canvas.dataset.kind || "bar";
    var horizontal = canvas.dataset.axis === "y";
    var category = { title: { display: true, text: spec.x },
                     ticks: { autoSkip: !horizontal, maxRotation: 0 } };
    var value = { title: { display: true, text: spec.y }, beginAtZero: true,
                  ticks: { precision: 0 } };
    new Chart(canvas, {
      type: kind,
      data: {
        labels: spec.labels,
        datasets: spec.series.map(function (s, i) {
          var colour = palette[i % palette.length];
          return { label: s.label, data: s.data, borderColor: colour, tension: 0.25,
                   backgroundColor: kind === "line" ? colour + "33" : colour + "cc",
                   fill: kind === "line", pointRadius: kind === "line" ? 2 : 0 };
        })
      },
      options: {
        indexAxis: horizontal ? "y" : "x",
        responsive: true, maintainAspectRatio: false, animation: false,
        plugins: {
          title: { display: true, text: spec.title, font: { size: 14, weight: "600" } },
          legend: { display: true, position: "bottom" }
        },
        scales: horizontal ? { x: value, y: category } : { x: category, y: value }
      }
    });
  }
  function init() {
    if (typeof Chart === "undefined") { return; }
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    document.querySelectorAll("canvas[data-chart]").forEach(draw);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else { init(); }
})();
