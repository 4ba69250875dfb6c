/* Seminar check-in: scan a ticket's QR code with the camera where the browser has the
   BarcodeDetector API (Chrome on Android, Safari 17+); elsewhere the field takes what a phone's
   QR scanner or the keyboard types. No external script. */
(function () {
  "use strict";
  var panel = document.querySelector("[data-testid='camera-panel']");
  var form = document.getElementById("prm-scan-form");
  var input = document.getElementById("prm-token");
  if (!panel || !form || !input) { return; }
  if (!("BarcodeDetector" in window) || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) { return; }
  panel.hidden = false;
  var button = document.getElementById("prm-camera-button");
  var video = document.getElementById("prm-camera-video");
  var status = document.getElementById("prm-camera-status");
  var stream = null;
  var detector = null;
  try { detector = new window.BarcodeDetector({ formats: ["qr_code"] }); } catch (e) { panel.hidden = true; return; }

  function stop() {
    if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); }
    stream = null;
    video.hidden = true;
  }

  function tick() {
    if (!stream) { return; }
    detector.detect(video).then(function (codes) {
      if (codes.length && codes[0].rawValue) {
        input.value = codes[0].rawValue;
        stop();
        form.submit();
        return;
      }
      window.requestAnimationFrame(tick);
    }).catch(function () { window.setTimeout(tick, 300); });
  }

  button.addEventListener("click", function () {
    if (stream) { stop(); return; }
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false }).then(function (s) {
      stream = s;
      video.srcObject = s;
      video.hidden = false;
      status.textContent = "";
      return video.play();
    }).then(tick).catch(function () {
      status.textContent = button.getAttribute("data-denied") || "";
      stop();
    });
  });
  window.addEventListener("pagehide", stop);
}());
