// Wide tables scroll sideways inside their own box (the theme's .pst-scrollable-table-container).
// A reader must see that they do: when a table is wider than its box, a line above it says so,
// and a shadow on the box's right edge shows that columns are hidden there (it goes once the
// table is scrolled to its end). The first column (the rows' labels) stays in view while the
// rest scrolls (book_static/cmprehab.css).
(() => {
  const HINT = "Scroll the table sideways for more columns \u2192";

  function frame(box) {
    if (box.parentElement.classList.contains("table-scroll-frame")) return box.parentElement;
    const wrapper = document.createElement("div");
    wrapper.className = "table-scroll-frame";
    const hint = document.createElement("p");
    hint.className = "table-scroll-hint";
    hint.textContent = HINT;
    hint.hidden = true;
    box.before(hint);
    box.before(wrapper);
    wrapper.append(box);
    box.addEventListener("scroll", () => mark(box), {passive: true});
    return wrapper;
  }

  function mark(box) {
    const wrapper = frame(box);
    const hidden = box.scrollWidth - box.clientWidth > 1;
    const atEnd = box.scrollLeft + box.clientWidth >= box.scrollWidth - 1;
    box.classList.toggle("table-scrolls", hidden);
    wrapper.classList.toggle("table-more-right", hidden && !atEnd);
    wrapper.previousElementSibling.hidden = !hidden;
  }

  // Marked again whenever a box or its table changes size: the window is resized, or fonts and
  // MathJax set the table's width after the page has loaded.
  const watcher = new ResizeObserver((entries) => {
    for (const entry of entries) {
      const box = entry.target.closest(".pst-scrollable-table-container");
      if (box) mark(box);
    }
  });

  function start() {
    document.querySelectorAll("article .pst-scrollable-table-container").forEach((box) => {
      mark(box);
      watcher.observe(box);
      const table = box.querySelector(":scope > table");
      if (table) watcher.observe(table);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
