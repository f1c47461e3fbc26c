// Tap (or click, Enter, Space) a figure to see it enlarged: figures are drawn to be legible at a
// phone's column width, and a reader who wants a closer look at a bar label or a heat-map cell
// gets the figure over the whole screen, at least twice as wide on a phone (scrollable there),
// with its alt text and caption. Tap it, press Escape or "Close" to go back; focus returns to the
// figure. Plain JavaScript and a native <dialog> (modal: focus stays inside, Escape closes it);
// nothing is loaded from elsewhere. Styles: book_static/cmprehab.css (.figure-zoom*).
(() => {
  // Enlargement at least this many times the width shown in the text; more where the screen allows.
  const PHONE_ZOOM = 2;
  const DESKTOP_ZOOM = 1.25;
  const PHONE_MAX = 768; // px: below this viewport width the reader is on a phone
  const PAD = 16; // px around the enlarged figure

  let dialog, shown, caption, opener;

  function build() {
    dialog = document.createElement("dialog");
    dialog.className = "figure-zoom";
    dialog.setAttribute("aria-labelledby", "figure-zoom-caption");
    const bar = document.createElement("div");
    bar.className = "figure-zoom__bar";
    const close = document.createElement("button");
    close.type = "button";
    close.className = "figure-zoom__close";
    close.textContent = "Close";
    close.addEventListener("click", () => dialog.close());
    bar.append(close);
    const scroller = document.createElement("div");
    scroller.className = "figure-zoom__scroll";
    // Larger than the screen on a phone: keyboard users scroll it with the arrow keys.
    scroller.tabIndex = 0;
    scroller.setAttribute("role", "region");
    scroller.setAttribute("aria-label", "Enlarged figure");
    shown = document.createElement("img");
    shown.className = "figure-zoom__image";
    scroller.append(shown);
    caption = document.createElement("p");
    caption.className = "figure-zoom__caption";
    caption.id = "figure-zoom-caption";
    dialog.append(bar, scroller, caption);
    // A tap on the figure or on the empty space around it closes; a tap on the caption does not
    // (its text can be selected), a drag that scrolls is no tap.
    scroller.addEventListener("click", () => dialog.close());
    dialog.addEventListener("click", (event) => { if (event.target === dialog) dialog.close(); });
    dialog.addEventListener("close", () => {
      document.documentElement.classList.remove("figure-zoom-active");
      if (opener && opener.isConnected) opener.focus();
    });
    document.body.append(dialog);
  }

  function captionText(figure) {
    const text = figure && figure.querySelector("figcaption");
    if (!text) return "";
    const copy = text.cloneNode(true);
    copy.querySelectorAll(".headerlink").forEach((link) => link.remove());
    return copy.textContent.replace(/\s+/g, " ").trim();
  }

  function open(button) {
    if (!dialog) build();
    const image = button.querySelector("img");
    const before = image.getBoundingClientRect();
    opener = button;
    shown.src = image.currentSrc || image.src;
    shown.alt = image.alt;
    caption.textContent = captionText(button.closest("figure")) || image.alt;
    document.documentElement.classList.add("figure-zoom-active");
    dialog.showModal();
    // The largest size that fits the screen beside the bar and the caption...
    const aspect = before.width / before.height;
    const room = dialog.clientHeight - dialog.querySelector(".figure-zoom__bar").offsetHeight
        - caption.offsetHeight - 2 * PAD;
    const fit = Math.min(dialog.clientWidth - 2 * PAD, Math.max(room, 100) * aspect);
    // ...but never less than a real enlargement: on a phone the reader scrolls (or pinches) it.
    const zoom = window.innerWidth < PHONE_MAX ? PHONE_ZOOM : DESKTOP_ZOOM;
    shown.style.width = `${Math.round(Math.max(fit, zoom * before.width))}px`;
    dialog.querySelector(".figure-zoom__scroll").scrollTo(0, 0);
  }

  function prepare(image) {
    if (image.closest("a, button, .figure-zoom")) return;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "figure-zoom-open";
    button.setAttribute("aria-haspopup", "dialog");
    image.before(button);
    button.append(image);
    // Said on screen and to screen readers (the button's name is the image's alt text, then this).
    const hint = document.createElement("span");
    hint.className = "figure-zoom-hint";
    hint.textContent = "Enlarge";
    button.append(hint);
    button.addEventListener("click", () => open(button));
  }

  function start() {
    document.querySelectorAll("article figure img, article .cell_output img").forEach(prepare);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
