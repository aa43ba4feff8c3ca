// markwatch triage: keyboard shortcuts and bulk selection. No framework, no build step.
(function () {
  "use strict";
  var page = document.body.getAttribute("data-page");

  function typing(ev) {
    var t = ev.target;
    return t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
  }

  function queuePage() {
    var rows = Array.prototype.slice.call(document.querySelectorAll("#queue tr.hit"));
    var bulk = document.getElementById("bulk");
    var all = document.getElementById("select-all");
    var current = rows.length ? 0 : -1;

    function show() {
      rows.forEach(function (r, i) { r.classList.toggle("current", i === current); });
      if (current >= 0) rows[current].scrollIntoView({ block: "nearest" });
    }
    function box(row) { return row.querySelector("input[type=checkbox][name=ids]"); }
    function act(action) {
      if (current < 0) return;
      var checked = rows.filter(function (r) { return box(r).checked; });
      if (!checked.length) box(rows[current]).checked = true;  // act on the highlighted row
      document.getElementById("bulk-action").value = action;
      bulk.submit();
    }
    if (all) {
      all.addEventListener("change", function () {
        rows.forEach(function (r) { box(r).checked = all.checked; });
      });
    }
    rows.forEach(function (r, i) {
      r.addEventListener("click", function (ev) {
        if (ev.target.tagName !== "A" && ev.target.tagName !== "INPUT") { current = i; show(); }
      });
    });
    document.addEventListener("keydown", function (ev) {
      if (typing(ev) || ev.ctrlKey || ev.metaKey || ev.altKey) return;
      if (ev.key === "j") { current = Math.min(rows.length - 1, current + 1); show(); }
      else if (ev.key === "k") { current = Math.max(0, current - 1); show(); }
      else if (ev.key === "x" && current >= 0) { var b = box(rows[current]); b.checked = !b.checked; }
      else if ((ev.key === "o" || ev.key === "Enter") && current >= 0) { window.location = rows[current].getAttribute("data-href"); }
      else if (ev.key === "c") { act("confirm"); }
      else if (ev.key === "d") { act("dismiss"); }
      else return;
      ev.preventDefault();
    });
    show();
  }

  function detailPage() {
    var nav = document.getElementById("hit-nav");
    document.addEventListener("keydown", function (ev) {
      if (typing(ev) || ev.ctrlKey || ev.metaKey || ev.altKey) return;
      var target = null;
      if (ev.key === "j") target = nav.getAttribute("data-next");
      else if (ev.key === "k") target = nav.getAttribute("data-prev");
      else if (ev.key === "c") { document.getElementById("confirm-form").submit(); }
      else if (ev.key === "d") { document.getElementById("dismiss-form").submit(); }
      else return;
      ev.preventDefault();
      if (target) window.location = target;
    });
  }

  if (page === "queue") queuePage();
  else if (page === "detail") detailPage();
})();
