// htmx sends the CSRF token from <body hx-headers>. A failed htmx request shows the
// translated message the page carries in <body data-error-message>.
document.addEventListener("htmx:responseError", function () {
  var box = document.createElement("p");
  box.className = "flash flash-error";
  box.setAttribute("role", "alert");
  box.textContent = document.body.dataset.errorMessage || "Error";
  document.getElementById("main").prepend(box);
});
