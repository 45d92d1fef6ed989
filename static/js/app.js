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
