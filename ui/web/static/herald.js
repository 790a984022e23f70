// Herald web UI: the little JavaScript it has. Pages work without it; it only adds the
// phone-width menu toggle (the menu is open when scripts do not run).
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function setUpMenu() {
    var toggle = document.querySelector(".menu-toggle");
    var nav = document.getElementById("site-nav");
    if (!toggle || !nav) {
      return;
    }
    toggle.addEventListener("click", function () {
      var open = toggle.getAttribute("aria-expanded") === "true";
      toggle.setAttribute("aria-expanded", open ? "false" : "true");
      nav.classList.toggle("open", !open);
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && nav.classList.contains("open")) {
        toggle.setAttribute("aria-expanded", "false");
        nav.classList.remove("open");
        toggle.focus();
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUpMenu);
  } else {
    setUpMenu();
  }
})();

// Report charts: the figure JSON is built on the server (plotly.graph_objects); Plotly draws
// it and resizes it with the page (plotly.min.js is loaded, deferred, on pages with charts).
(function () {
  "use strict";

  function drawCharts() {
    if (typeof window.Plotly === "undefined") {
      return;
    }
    var charts = document.querySelectorAll(".js-report-chart");
    Array.prototype.forEach.call(charts, function (chart) {
      var source = document.getElementById(chart.getAttribute("data-figure"));
      if (!source) {
        return;
      }
      var figure = JSON.parse(source.textContent);
      window.Plotly.newPlot(chart, figure.data || [], figure.layout || {}, {
        responsive: true,
        displaylogo: false,
        modeBarButtonsToRemove: ["select2d", "lasso2d"]
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawCharts);
  } else {
    drawCharts();
  }
})();
