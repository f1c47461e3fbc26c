// Wide tables scroll sideways inside their own box (the theme's .pst-scrollable-table-container).
// A reader must see that they do: when a table is wider than its box, a line above it says so,
// and a shadow on the box's right edge shows that columns are hidden there (it goes once the
// table is scrolled to its end). The first column (the rows' labels) stays in view while the
// rest scrolls (book_static/cmprehab.css). Marked again whenever the page is resized.
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

  function markAll() {
    document.querySelectorAll("article .pst-scrollable-table-container").forEach(mark);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", markAll);
  else markAll();
  window.addEventListener("load", markAll);  // after fonts and MathJax have set the widths
  let pending = null;
  window.addEventListener("resize", () => {
    cancelAnimationFrame(pending);
    pending = requestAnimationFrame(markAll);
  });
})();
