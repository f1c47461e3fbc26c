// Tooltips of traced numbers (_ext/traced_numbers.py) open on hover, tap or keyboard focus (CSS);
// Escape closes the open one until the pointer or focus leaves it (WCAG 1.4.13, dismissible).
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  document.querySelectorAll(".traced:hover, .traced:focus-within").forEach((number) => {
    number.classList.add("trace-dismissed");
  });
});
["mouseleave", "focusout"].forEach((type) => {
  document.addEventListener(type, (event) => {
    const number = event.target.closest && event.target.closest(".traced");
    if (number && !number.matches(":hover, :focus-within")) number.classList.remove("trace-dismissed");
  }, true);
});

// A tooltip opens below its number, from the number's left edge. Near the right edge of the
// screen it would stick out and widen the page: shift it left to fit. (On a phone it is a bar
// fixed to the bottom of the screen instead: book_static/cmprehab.css.)
function keepTooltipInView(number) {
  const tip = number.querySelector(":scope > .trace");
  if (!tip || getComputedStyle(tip).position === "fixed") return;
  tip.style.left = "";
  requestAnimationFrame(() => {
    const box = tip.getBoundingClientRect();
    if (!box.width) return;
    const margin = 8, right = document.documentElement.clientWidth - margin;
    // Left by what sticks out on the right, but never past the screen's left margin.
    const shift = Math.max(Math.min(0, right - box.right), margin - box.left);
    if (shift) tip.style.left = `${shift}px`;
  });
}
["mouseover", "focusin"].forEach((type) => {
  document.addEventListener(type, (event) => {
    const number = event.target.closest && event.target.closest(".traced");
    const from = event.relatedTarget;
    if (number && !(from && number.contains(from))) keepTooltipInView(number);
  });
});

// Sphinx's search shows a snippet of each page found, taken from the page's text: without the
// tooltips, the collapsed code and its "Made by" lines, which are not what a reader reads there.
document.addEventListener("DOMContentLoaded", () => {
  if (typeof Search === "undefined" || !Search.htmlToText) return;
  const pageText = Search.htmlToText;
  Search.htmlToText = (htmlString, anchor) => {
    const page = new DOMParser().parseFromString(htmlString, "text/html");
    page.querySelectorAll(".traced > .trace, details.hide, .cell-functions").forEach((e) => e.remove());
    return pageText(page.documentElement.outerHTML, anchor);
  };
});
