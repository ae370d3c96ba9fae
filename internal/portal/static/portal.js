// mint portal: progressive enhancement only. Every page works without this file.
// - Copy buttons (hidden without JavaScript) copy the text of the element they name.
// - A confirmation's safe button ("No") gets the focus.
(function () {
  "use strict";
  document.querySelectorAll("button.copy[data-copy]").forEach(function (b) {
    b.hidden = false;
    b.addEventListener("click", function () {
      var el = document.getElementById(b.getAttribute("data-copy"));
      if (!el || !navigator.clipboard) { return; }
      navigator.clipboard.writeText(el.textContent.trim()).then(function () {
        var s = document.getElementById("copy-status");
        if (s) { s.textContent = "Copied to clipboard"; }
      });
    });
  });
  if (document.querySelector("button.copy")) {
    var live = document.createElement("p");
    live.id = "copy-status";
    live.className = "visually-hidden";
    live.setAttribute("role", "status");
    document.body.appendChild(live);
  }
  var safe = document.querySelector("[data-autofocus]");
  if (safe) { safe.focus(); }
})();
