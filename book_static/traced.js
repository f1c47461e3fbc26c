// Tooltips of traced numbers (_ext/traced_numbers.py) open on hover or keyboard focus (CSS);
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
