// mint portal: progressive enhancement only. Every page works without this file.
// - Copy buttons (hidden without JavaScript) copy the text of the element they name.
// - Tabs (role=tablist/tab) get a roving tabindex: one tab stop for the list, the arrow keys,
//   Home and End move between tabs, Enter (and Space on a link tab) opens one. Without
//   JavaScript every tab is an ordinary link or button.
// - Confirmations are <dialog>s opened with showModal(): the rest of the page is inert, the focus
//   starts on the safe button and returns to the control that opened the dialog. A form with
//   data-confirm asks before it is sent; without JavaScript the server asks instead.
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

  // Tabs (WAI-ARIA Authoring Practices, tabs with manual activation).
  document.querySelectorAll("[role=tablist]").forEach(function (list) {
    var tabs = Array.prototype.slice.call(list.querySelectorAll("[role=tab]"));
    if (tabs.length === 0) { return; }
    var selected = 0;
    tabs.forEach(function (t, i) { if (t.getAttribute("aria-selected") === "true") { selected = i; } });
    tabs.forEach(function (t, i) { t.tabIndex = i === selected ? 0 : -1; });
    list.addEventListener("keydown", function (e) {
      var i = tabs.indexOf(document.activeElement);
      if (i < 0) { return; }
      var next;
      switch (e.key) {
        case "ArrowRight": case "ArrowDown": next = (i + 1) % tabs.length; break;
        case "ArrowLeft": case "ArrowUp": next = (i - 1 + tabs.length) % tabs.length; break;
        case "Home": next = 0; break;
        case "End": next = tabs.length - 1; break;
        case " ":
          if (tabs[i].tagName === "A") { e.preventDefault(); tabs[i].click(); }
          return;
        default: return;
      }
      e.preventDefault();
      tabs[i].tabIndex = -1;
      tabs[next].tabIndex = 0;
      tabs[next].focus();
    });
  });

  function safeButton(d) { return d.querySelector("[data-autofocus]"); }

  // A confirmation the server rendered: open it modally; Escape does what "No" does.
  document.querySelectorAll("dialog[open]").forEach(function (d) {
    if (typeof d.showModal !== "function") { return; }
    d.close();
    d.showModal();
    var safe = safeButton(d);
    if (safe) { safe.focus(); }
    d.addEventListener("cancel", function (e) {
      var to = d.getAttribute("data-cancel");
      if (to) { e.preventDefault(); window.location.href = to; }
    });
  });

  // A form that asks first: data-confirm names its dialog, or data-confirm-radio names a radio
  // group whose new value (if it differs from data-current) picks data-confirm-<value>.
  document.querySelectorAll("form[data-confirm], form[data-confirm-radio]").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      if (form.getAttribute("data-confirmed") === "yes") { return; }
      var id = form.getAttribute("data-confirm");
      var radio = form.getAttribute("data-confirm-radio");
      if (radio) {
        var checked = form.querySelector("input[name='" + radio + "']:checked");
        if (!checked || checked.value === form.getAttribute("data-current")) { return; }
        id = form.getAttribute("data-confirm-" + checked.value);
      }
      var needs = form.getAttribute("data-confirm-needs");
      if (needs && !form.querySelector("input[name='" + needs + "']:checked")) { return; }
      var d = id && document.getElementById(id);
      if (!d || typeof d.showModal !== "function") { return; }
      e.preventDefault();
      var opener = e.submitter || document.activeElement;
      var yes = d.querySelector("[data-yes]");
      var no = d.querySelector("[data-no]");
      var confirmed = false;
      function onYes() {
        confirmed = true;
        var c = document.createElement("input");
        c.type = "hidden"; c.name = "confirm"; c.value = "yes";
        form.appendChild(c);
        form.setAttribute("data-confirmed", "yes");
        d.close();
        form.submit();
      }
      function onNo() { d.close(); }
      function onClose() {
        yes.removeEventListener("click", onYes);
        no.removeEventListener("click", onNo);
        d.removeEventListener("close", onClose);
        if (!confirmed && opener && opener.focus) { opener.focus(); }
      }
      yes.addEventListener("click", onYes);
      no.addEventListener("click", onNo);
      d.addEventListener("close", onClose);
      d.showModal();
      var safe = safeButton(d);
      if (safe) { safe.focus(); }
    });
  });

  // Add Federated Credential: the Subject identifier follows the scenario's fields as they are
  // typed (the server builds the same subject when the form is sent).
  var subject = document.getElementById("fic-subject");
  function val(id) { var el = document.getElementById(id); return el ? el.value.trim() : ""; }
  function ficSubject() {
    if (document.getElementById("fic-repository")) {
      var org = val("fic-organization"), repo = val("fic-repository"), entity = val("fic-entity"), v = val("fic-entityValue");
      if (org === "" || repo === "") { return ""; }
      var base = "repo:" + org + "/" + repo;
      if (entity === "pull_request") { return base + ":pull_request"; }
      if (v === "") { return ""; }
      if (entity === "branch") { return base + ":ref:refs/heads/" + v; }
      if (entity === "tag") { return base + ":ref:refs/tags/" + v; }
      return base + ":environment:" + v;
    }
    var ns = val("fic-namespace"), sa = val("fic-serviceAccount");
    return ns !== "" && sa !== "" ? "system:serviceaccount:" + ns + ":" + sa : "";
  }
  if (subject && subject.readOnly) {
    ["fic-organization", "fic-repository", "fic-entity", "fic-entityValue", "fic-namespace", "fic-serviceAccount"].forEach(function (id) {
      var el = document.getElementById(id);
      if (el) { el.addEventListener("input", function () { subject.value = ficSubject(); }); el.addEventListener("change", function () { subject.value = ficSubject(); }); }
    });
  }

  var first = document.querySelector("[data-autofocus]:not(dialog [data-autofocus])");
  if (first) { first.focus(); }
})();
