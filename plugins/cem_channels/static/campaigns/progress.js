// Live progress of a campaign (cem_channels): polls data-progress-url every 5 s while the campaign
// is scheduled, sending or paused, and updates the counts in place. The page works without it.
(function () {
  "use strict";
  var panel = document.getElementById("cem-progress");
  if (!panel || panel.getAttribute("data-live") !== "true") { return; }
  var url = panel.getAttribute("data-progress-url");
  var state = document.querySelector("[data-testid=campaign-state]");
  function fmt(n) { return Number(n).toLocaleString(); }
  function update(p) {
    var bar = panel.querySelector("[data-field=bar]");
    if (bar) { bar.max = p.total || 1; bar.value = p.terminal; }
    var t = panel.querySelector("[data-field=terminal]"); if (t) { t.textContent = fmt(p.terminal); }
    var n = panel.querySelector("[data-field=total]"); if (n) { n.textContent = fmt(p.total); }
    Object.keys(p.counts || {}).forEach(function (k) {
      var cell = panel.querySelector("[data-count='" + k + "']");
      if (cell) { cell.textContent = fmt(p.counts[k]); }
    });
    if (state && state.getAttribute("data-state") !== p.state) {
      // the state changed (finished, paused elsewhere): reload for the right buttons
      window.location.reload();
      return false;
    }
    return p.state === "scheduled" || p.state === "sending" || p.state === "paused";
  }
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (p) { if (p && update(p)) { window.setTimeout(poll, 5000); } })
      .catch(function () { window.setTimeout(poll, 15000); });
  }
  window.setTimeout(poll, 5000);
})();
