// Compare screen: view modes (side by side, overlay, difference), click-to-zoom, and
// keyboard shortcuts so a curator can work through the queue without the mouse.
(function () {
  "use strict";
  const root = document.getElementById("keepsake-compare");
  if (!root) return;
  const stage = document.getElementById("keepsake-stage");
  const opacity = document.getElementById("keepsake-opacity");
  const form = document.getElementById("keepsake-decision");

  function setMode(mode) {
    stage.className = "keepsake-stage mode-" + mode;
    root.querySelectorAll("[data-mode]").forEach(function (button) {
      button.classList.toggle("active", button.dataset.mode === mode);
    });
  }
  root.querySelectorAll("[data-mode]").forEach(function (button) {
    button.addEventListener("click", function () { setMode(button.dataset.mode); });
  });
  if (opacity) {
    opacity.addEventListener("input", function () {
      stage.style.setProperty("--b-opacity", opacity.value / 100);
    });
  }
  root.querySelectorAll(".keepsake-image").forEach(function (image) {
    image.addEventListener("click", function (event) {
      const box = image.getBoundingClientRect();
      const x = ((event.clientX - box.left) / box.width) * 100;
      const y = ((event.clientY - box.top) / box.height) * 100;
      const zoomed = !stage.classList.contains("zoomed");
      stage.classList.toggle("zoomed", zoomed);
      // Both images zoom on the same point, so details line up for comparison.
      root.querySelectorAll(".keepsake-image").forEach(function (other) {
        other.style.transformOrigin = x + "% " + y + "%";
      });
    });
  });

  function submit(decision) {
    if (!form) return;
    const field = document.createElement("input");
    field.type = "hidden";
    field.name = "decision";
    field.value = decision;
    form.appendChild(field);
    form.submit();
  }
  function choose(index) {
    if (!form) return;
    const radios = form.querySelectorAll("input[name=canonical]");
    if (radios[index]) radios[index].checked = true;
  }
  document.addEventListener("keydown", function (event) {
    if (event.target.matches("input[type=text], textarea") || event.ctrlKey || event.metaKey) {
      return;
    }
    const actions = {
      // A look-alike is never confirmed by a key-press: only the override form does it.
      c: function () {
        if (root.dataset.kind === "similar") {
          const override = document.getElementById("keepsake-override");
          if (override) override.open = true;
          return;
        }
        submit("confirm");
      },
      n: function () { submit("not_duplicate"); },
      d: function () { submit("defer"); },
      j: function () { if (root.dataset.next) window.location = root.dataset.next; },
      ArrowRight: function () { if (root.dataset.next) window.location = root.dataset.next; },
      q: function () { window.location = root.dataset.queue; },
      s: function () { setMode("side"); },
      o: function () { setMode("overlay"); },
      x: function () { setMode("difference"); },
      1: function () { choose(0); },
      2: function () { choose(1); },
    };
    const action = actions[event.key];
    if (action) {
      event.preventDefault();
      action();
    }
  });
})();
