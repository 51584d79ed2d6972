/* jiedai — small progressive enhancements; every page works without them.
   Loaded in <head> without `defer` so the `js` class is set before the first paint (no flash
   of the open mobile menu). No inline scripts or handlers anywhere: a strict CSP is planned. */
(function () {
  "use strict";

  document.documentElement.classList.add("js");

  function ready(fn) {
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", fn);
    } else {
      fn();
    }
  }

  ready(function () {
    // The menu button (narrow screens) opens the navigation and the user menu.
    var toggle = document.querySelector(".nav-toggle");
    if (toggle) {
      toggle.addEventListener("click", function () {
        var open = document.body.classList.toggle("nav-open");
        toggle.setAttribute("aria-expanded", open ? "true" : "false");
      });
    }

    // Flashed messages can be dismissed.
    document.querySelectorAll("[data-dismiss='flash']").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        var flash = button.closest(".flash");
        if (flash) {
          flash.remove();
        }
      });
    });
  });

  // <button data-action="print"> prints the page (print views; no inline handlers: CSP).
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-action='print']");
    if (button) {
      window.print();
    }
  });

  // <form data-confirm="Really cancel?"> asks before submitting.
  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      event.preventDefault();
    }
  });
})();
