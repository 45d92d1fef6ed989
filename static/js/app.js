// htmx sends the CSRF token from <body hx-headers>. A failed htmx request shows the
// translated message the page carries in <body data-error-message>.
document.addEventListener("htmx:responseError", function () {
  var box = document.createElement("p");
  box.className = "flash flash-error";
  box.setAttribute("role", "alert");
  box.textContent = document.body.dataset.errorMessage || "Error";
  document.getElementById("main").prepend(box);
});

// "Back to the form" on an outage page: the browser still holds what was typed there.
document.addEventListener("click", function (event) {
  var back = event.target.closest("[data-history-back]");
  if (back && window.history.length > 1) {
    event.preventDefault();
    window.history.back();
  }
});

// A page that asks for it moves the focus when it opens (no inline script: the CSP allows
// none): <el data-focus-on-load> takes the focus itself, <el data-focus-on-load="ID"> gives it
// to the element with that id.
function focusOnLoad() {
  var asking = document.querySelector("[data-focus-on-load]");
  if (!asking) { return; }
  var id = asking.getAttribute("data-focus-on-load");
  var target = id ? document.getElementById(id) : asking;
  if (target) { target.focus(); }
}
if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", focusOnLoad);
} else {
  focusOnLoad();
}
