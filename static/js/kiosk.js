// The entrance kiosk: numeric keypad, party-size stepper, one submit per form, idle reset.
// Plain JavaScript, no libraries: the kiosk must work offline from any CDN.
(function () {
  "use strict";

  function meta(name) {
    var tag = document.querySelector('meta[name="' + name + '"]');
    return tag ? tag.getAttribute("content") : null;
  }

  // --- idle reset: back to the welcome screen after N seconds without a touch ----------------
  var idleSeconds = parseFloat(meta("kiosk-idle-seconds") || "0");
  var resetUrl = meta("kiosk-reset-url");
  var idleTimer = null;

  function armIdleTimer() {
    if (!(idleSeconds > 0) || !resetUrl) return;
    window.clearTimeout(idleTimer);
    idleTimer = window.setTimeout(function () {
      // The reset URL clears the check-in and the language on the server; replace() keeps
      // the visitor's pages out of the history.
      window.location.replace(resetUrl);
    }, idleSeconds * 1000);
  }

  ["pointerdown", "touchstart", "keydown", "input", "wheel"].forEach(function (type) {
    document.addEventListener(type, armIdleTimer, { capture: true, passive: true });
  });

  // A page restored from the back/forward cache must not show the last visitor's answers.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) window.location.reload();
  });

  // --- an outage: ask the server every few seconds, and go back to the step once it answers --
  function retryWhenBack() {
    var box = document.querySelector("[data-kiosk-retry]");
    if (!box) return;
    var target = box.getAttribute("data-kiosk-retry");
    var health = box.getAttribute("data-health-url");
    function probe() {
      fetch(health, { cache: "no-store", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (response.ok) {
            window.location.replace(target);
          } else {
            window.setTimeout(probe, 5000);
          }
        })
        .catch(function () {
          window.setTimeout(probe, 5000);
        });
    }
    window.setTimeout(probe, 5000);
  }

  function ready() {
    armIdleTimer();
    retryWhenBack();

    // --- numeric keypad typing into its input -----------------------------------------------
    document.querySelectorAll("[data-keypad]").forEach(function (pad) {
      var input = document.getElementById(pad.getAttribute("data-keypad"));
      if (!input) return;
      // A Chinese mobile has 11 digits; the input itself also takes "+86 ..." from a keyboard.
      var max = parseInt(pad.getAttribute("data-max") || input.getAttribute("maxlength") || "20", 10);
      pad.addEventListener("click", function (event) {
        var button = event.target.closest("button[data-key]");
        if (!button) return;
        var key = button.getAttribute("data-key");
        if (key === "back") {
          input.value = input.value.slice(0, -1);
        } else if (key === "clear") {
          input.value = "";
        } else if (input.value.length < max) {
          input.value += key;
        }
        input.dispatchEvent(new Event("input", { bubbles: true }));
      });
    });

    // --- party-size stepper -------------------------------------------------------------------
    document.querySelectorAll("[data-stepper]").forEach(function (box) {
      var input = document.getElementById(box.getAttribute("data-stepper"));
      if (!input) return;
      var min = parseInt(input.getAttribute("min") || "1", 10);
      var max = parseInt(input.getAttribute("max") || "20", 10);
      box.addEventListener("click", function (event) {
        var button = event.target.closest("button[data-step]");
        if (!button) return;
        var value = parseInt(input.value, 10);
        if (isNaN(value)) value = min;
        value = Math.min(max, Math.max(min, value + parseInt(button.getAttribute("data-step"), 10)));
        input.value = String(value);
        input.dispatchEvent(new Event("input", { bubbles: true }));
      });
    });

    // --- one submit per form: a double tap sends the form once --------------------------------
    // (The server's idempotency key still guarantees one visit if two posts get through.)
    document.querySelectorAll("form[data-once]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (form.getAttribute("data-sent")) {
          event.preventDefault();
          return;
        }
        form.setAttribute("data-sent", "1");
        // Disable after the browser has taken the submitter's name and value.
        window.setTimeout(function () {
          form.querySelectorAll("button[type=submit]").forEach(function (button) {
            button.disabled = true;
            button.setAttribute("aria-busy", "true");
          });
        }, 0);
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
})();
