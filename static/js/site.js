// The menu button of narrow screens. Loaded in <head>: the "js" class hides the menu before
// the page is drawn; without JavaScript the menu simply stays open.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  document.addEventListener("DOMContentLoaded", function () {
    const button = document.querySelector(".menu-toggle");
    const header = document.querySelector("header.site");
    if (!button || !header) return;
    function set(open) {
      header.classList.toggle("menu-open", open);
      button.setAttribute("aria-expanded", open ? "true" : "false");
    }
    button.addEventListener("click", function () {
      set(button.getAttribute("aria-expanded") !== "true");
    });
    document.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && header.classList.contains("menu-open")) {
        set(false);
        button.focus();
      }
    });
  });
})();
