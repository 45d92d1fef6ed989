// The callback form's progressive disclosure: show the questions that apply to the answers
// given so far. The server renders the same sections (and validates on its own); without
// script everything shows.
// Loaded with defer: the page is parsed when this runs.
(function () {
  "use strict";

  var form = document.getElementById("callback-form");
  if (!form) { return; }
  function chosen(name) {
    var input = form.querySelector('input[name="' + name + '"]:checked');
    return input ? input.value : "";
  }
  function applies(rule) {
    return rule.split("&").every(function (part) {
      var pair = part.split("=");
      return pair[1].split("|").indexOf(chosen(pair[0])) >= 0;
    });
  }
  function update() {
    form.querySelectorAll("[data-when]").forEach(function (section) {
      section.hidden = !applies(section.getAttribute("data-when"));
    });
  }
  form.addEventListener("change", update);
  update();
})();
