// Small progressive enhancements; every page works without them.
(function () {
  "use strict";
  // Confirm dangerous actions: <button data-confirm="...">
  document.addEventListener("click", function (ev) {
    var el = ev.target.closest("[data-confirm]");
    if (el && !window.confirm(el.getAttribute("data-confirm"))) { ev.preventDefault(); }
  });
  // Auto-submit filter selects: <select data-autosubmit>
  document.addEventListener("change", function (ev) {
    if (ev.target.matches("[data-autosubmit]")) { ev.target.form.submit(); }
  });
  // Charts: <canvas data-chart="id-of-json-script">, JSON = Chart.js config.
  function drawCharts() {
    if (!window.Chart) { return; }
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var src = document.getElementById(canvas.getAttribute("data-chart"));
      if (!src) { return; }
      var cfg = JSON.parse(src.textContent);
      cfg.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false }, cfg.options || {});
      new window.Chart(canvas, cfg);
    });
  }
  // Heat tables: <td data-heat="0..1"> gets a background of that strength (set from JS: the CSP
  // allows no inline style attributes).
  function shadeHeat() {
    document.querySelectorAll("[data-heat]").forEach(function (cell) {
      var h = parseFloat(cell.getAttribute("data-heat"));
      if (!(h > 0)) { return; }
      cell.style.backgroundColor = "rgba(31, 95, 191, " + (0.08 + 0.72 * Math.min(h, 1)).toFixed(2) + ")";
      if (h > 0.55) {
        cell.style.color = "#fff";
        cell.querySelectorAll("small").forEach(function (el) { el.style.color = "inherit"; });
      }
    });
  }
  function ready() { drawCharts(); shadeHeat(); }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", ready); } else { ready(); }
})();
