/* uiflow staff console: the little behaviour htmx does not cover. No inline script, no eval
   (the page's Content-Security-Policy forbids both). Every page works without this file; it adds
   keyboard shortcuts, the CSRF header for htmx requests and a few conveniences. */
(function () {
  "use strict";

  function csrfToken() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute("content") : "";
  }

  function flash(message, level) {
    var box = document.getElementById("flash");
    if (!box) return;
    var div = document.createElement("div");
    div.className = "alert alert-" + (level || "error");
    div.setAttribute("role", "alert");
    div.textContent = message;
    var close = document.createElement("button");
    close.type = "button";
    close.className = "alert-close";
    close.setAttribute("aria-label", "关闭");
    close.textContent = "×";
    div.appendChild(close);
    box.replaceChildren(div);
  }

  // --- htmx integration ---------------------------------------------------------------------------
  document.addEventListener("htmx:configRequest", function (e) {
    e.detail.headers["X-CSRF-Token"] = csrfToken();
  });
  document.addEventListener("htmx:responseError", function (e) {
    var status = e.detail.xhr ? e.detail.xhr.status : 0;
    if (status >= 500) flash("系统暂时无法处理（" + status + "），请稍后再试或联系运维人员");
  });
  document.addEventListener("htmx:sendError", function () {
    flash("网络连接失败，请检查网络后重试");
  });
  document.addEventListener("htmx:afterRequest", function (e) {
    var elt = e.detail.elt;
    if (elt && elt.matches && elt.matches('input[type="file"]')) elt.value = "";
  });
  document.addEventListener("htmx:afterSwap", function (e) {
    var target = e.detail.target;
    if (!target) return;
    var refusal = document.querySelector("#decision-panel [data-refusal]");
    if (refusal && target.id === "decision-panel") {
      refusal.setAttribute("tabindex", "-1");
      refusal.focus();
    }
    if (target.id === "case-table" || (target.closest && target.closest("#case-table"))) selected = -1;
  });

  // --- reject reason → remedy prefill -------------------------------------------------------------------
  // The remedy is prefilled from the catalogue; switching the reason replaces it only while the
  // reviewer has not edited it.
  document.addEventListener("focusin", function (e) {
    var sel = e.target;
    if (sel && sel.matches && sel.matches("select[data-remedy-for]")) {
      var opt = sel.options[sel.selectedIndex];
      sel.dataset.lastDefault = opt ? opt.getAttribute("data-remedy") || "" : "";
    }
  });
  document.addEventListener("change", function (e) {
    var sel = e.target;
    if (sel.matches && sel.matches("select[data-remedy-for]")) {
      var area = document.getElementById(sel.getAttribute("data-remedy-for"));
      var opt = sel.options[sel.selectedIndex];
      if (area && opt) {
        var last = sel.dataset.lastDefault;
        if (area.value.trim() === "" || last === undefined || area.value === last) {
          area.value = opt.getAttribute("data-remedy") || "";
        }
        sel.dataset.lastDefault = opt.getAttribute("data-remedy") || "";
      }
    }
    if (sel.matches && sel.matches("select[data-autosubmit]") && sel.form) sel.form.submit();
  });

  // --- clicks: remove an uploaded document, close an alert ----------------------------------------------
  document.addEventListener("click", function (e) {
    var t = e.target;
    if (!t.closest) return;
    var rm = t.closest("[data-remove-chip]");
    if (rm) {
      var chip = rm.closest(".doc-chip");
      if (chip) chip.remove();
      return;
    }
    var close = t.closest(".alert-close");
    if (close) close.parentElement.remove();
  });

  // --- keyboard ------------------------------------------------------------------------------------------
  var selected = -1;

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("tr[data-row]"));
  }

  function select(delta) {
    var list = rows();
    if (!list.length) return;
    if (selected >= 0 && list[selected]) list[selected].classList.remove("selected");
    selected = Math.max(0, Math.min(list.length - 1, selected + delta));
    var row = list[selected];
    row.classList.add("selected");
    var link = row.querySelector("a");
    if (link) link.focus({ preventScroll: true });
    row.scrollIntoView({ block: "nearest" });
  }

  function clickIf(selector) {
    var el = document.querySelector(selector);
    if (el) el.click();
    return !!el;
  }

  document.addEventListener("keydown", function (e) {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
    var help = document.getElementById("help");
    var t = e.target;
    var typing = t && t.closest && t.closest("input, textarea, select, [contenteditable]");
    if (e.key === "Escape") {
      if (help && !help.hidden) help.hidden = true;
      else if (typing) t.blur();
      return;
    }
    if (typing) return;
    var handled = true;
    switch (e.key) {
      case "/":
        var q = document.getElementById("jump-q");
        if (q) q.focus();
        break;
      case "?":
        if (help) help.hidden = !help.hidden;
        break;
      case "1": case "2": case "3": case "4":
        handled = clickIf('.mainnav a[data-key="' + e.key + '"]');
        break;
      case "j": select(1); break;
      case "k": select(-1); break;
      case "o":
        var list = rows();
        if (selected >= 0 && list[selected]) {
          var a = list[selected].querySelector("a");
          if (a) a.click();
        }
        break;
      case "[": handled = clickIf('[data-pager="prev"]'); break;
      case "]": handled = clickIf('[data-pager="next"]'); break;
      case "d":
        var first = document.querySelector('#decision-panel input[name="decision"], #decision-panel button, #decision-panel select');
        if (first) first.focus(); else handled = false;
        break;
      default:
        handled = false;
    }
    if (handled) e.preventDefault();
  });

  // --- pages that wait for the workflow reload themselves ----------------------------------------------------
  document.addEventListener("DOMContentLoaded", function () {
    // Only while the system is working (the server sets the attribute); the reload says it is one
    // (auto=1), so the visit's timeline view is recorded once, not once per reload.
    var ms = parseInt(document.body.getAttribute("data-autorefresh") || "0", 10);
    if (ms > 0) setTimeout(function () {
      var url = new URL(window.location.href);
      url.searchParams.set("auto", "1");
      window.location.replace(url.toString());
    }, ms);
  });
})();
