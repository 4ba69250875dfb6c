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
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", drawCharts); } else { drawCharts(); }
})();
