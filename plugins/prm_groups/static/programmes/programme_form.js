// Programme form: per step row, show only what its kind uses — a message step its channels and
// the text of the checked channels, a seminar series its completion rule. Without script every
// field shows and the server still checks everything.
(function () {
  "use strict";
  function update(row) {
    var kind = row.querySelector("[data-role=kind]").value;
    var checked = {};
    row.querySelectorAll("[data-role=channel]").forEach(function (box) { checked[box.value] = box.checked; });
    row.querySelectorAll("[data-show]").forEach(function (el) {
      var want = el.getAttribute("data-show");
      el.hidden = !(want === kind || (want === "any" && kind));
    });
    row.querySelectorAll("[data-channel]").forEach(function (el) {
      el.hidden = !checked[el.getAttribute("data-channel")] && !el.classList.contains("has-error");
    });
  }
  document.querySelectorAll("[data-role=step]").forEach(function (row) {
    row.addEventListener("change", function () { update(row); });
    update(row);
  });
})();
