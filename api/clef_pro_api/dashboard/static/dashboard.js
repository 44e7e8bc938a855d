// Clef Pro dashboard: progressive enhancement only. Every page works without
// this script; with it, times stay fresh, confirmations open in a dialog and
// the integrations filter narrows the list as you type.
(function () {
  "use strict";

  // ------------------------------------------------------------ relative times
  var units = [
    ["year", 365 * 86400],
    ["month", 30 * 86400],
    ["day", 86400],
    ["hour", 3600],
    ["minute", 60],
  ];
  var format = window.Intl && Intl.RelativeTimeFormat
    ? new Intl.RelativeTimeFormat(undefined, { numeric: "auto" })
    : null;

  function relative(date) {
    var seconds = (date.getTime() - Date.now()) / 1000;
    if (Math.abs(seconds) < 45) return "just now";
    for (var i = 0; i < units.length; i++) {
      var size = units[i][1];
      if (Math.abs(seconds) >= size * 0.9 || units[i][0] === "minute") {
        var count = Math.round(seconds / size);
        if (format) return format.format(count, units[i][0]);
        var n = Math.abs(count);
        var words = n + " " + units[i][0] + (n === 1 ? "" : "s");
        return count < 0 ? words + " ago" : "in " + words;
      }
    }
    return "";
  }

  function refreshTimes(first) {
    var nodes = document.querySelectorAll("time[data-relative]");
    for (var i = 0; i < nodes.length; i++) {
      var node = nodes[i];
      var date = new Date(node.getAttribute("datetime"));
      if (isNaN(date.getTime())) continue;
      node.textContent = relative(date);
      if (first) {
        // Exact time in the reader's own zone, with the UTC one beside it.
        node.title = date.toLocaleString() + " (" + node.title + ")";
      }
    }
  }

  // ------------------------------------------------------------ confirmation dialogs
  function setUpDialogs() {
    document.addEventListener("click", function (event) {
      var opener = event.target.closest("[data-open-dialog]");
      if (opener) {
        var dialog = document.getElementById(opener.getAttribute("data-open-dialog"));
        if (dialog && typeof dialog.showModal === "function") {
          event.preventDefault();
          dialog.showModal();
          var submit = dialog.querySelector("button[type=submit]");
          if (submit) submit.focus();
        }
        return;
      }
      var closer = event.target.closest("[data-close-dialog]");
      if (closer) {
        var open = closer.closest("dialog");
        if (open) {
          event.preventDefault();
          open.close();
        }
      }
    });
  }

  // ------------------------------------------------------------ live filter
  function setUpFilter() {
    var input = document.querySelector("input[data-live-filter]");
    if (!input) return;
    var table = document.getElementById(input.getAttribute("data-live-filter"));
    if (!table) return;
    var rows = table.querySelectorAll("tbody tr[data-search]");
    var count = document.querySelector("[data-filter-count]");
    var empty = document.querySelector("[data-filter-empty]");
    var total = count ? count.textContent.replace(/^\d+/, "") : "";

    input.addEventListener("input", function () {
      var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      var shown = 0;
      for (var i = 0; i < rows.length; i++) {
        var text = rows[i].getAttribute("data-search");
        var match = words.every(function (word) { return text.indexOf(word) !== -1; });
        rows[i].hidden = !match;
        if (match) shown++;
      }
      if (count) count.textContent = shown + total;
      if (empty) empty.hidden = shown !== 0;
      table.hidden = shown === 0;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.documentElement.classList.add("js");
    refreshTimes(true);
    window.setInterval(function () { refreshTimes(false); }, 30000);
    setUpDialogs();
    setUpFilter();
  });
})();
