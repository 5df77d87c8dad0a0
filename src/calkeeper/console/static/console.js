document.documentElement.classList.add("js");
// A little progressive enhancement: strike through rows staged for removal, open and close dialogs, fill bars.
document.addEventListener("change", (event) => {
  const box = event.target;
  if (box.matches && box.matches("input[data-stage]")) {
    box.closest("tr").classList.toggle("staged", box.checked && box.dataset.stage === "remove");
  }
  if (box.matches && box.matches("input[data-select-all]")) {  // "Select all on this page"
    for (const row of document.getElementById(box.dataset.selectAll).querySelectorAll("input[data-stage]")) {
      row.checked = box.checked;
      row.closest("tr").classList.toggle("staged", box.checked && row.dataset.stage === "remove");
    }
  }
});
document.addEventListener("click", (event) => {
  const opener = event.target.closest("[data-open-dialog]");
  if (opener) { document.getElementById(opener.dataset.openDialog).showModal(); event.preventDefault(); }
  const menu = event.target.closest(".menu-toggle");  // the sidebar folds into a menu on narrow screens
  if (menu) {
    const side = menu.closest("nav.side");
    side.classList.toggle("folded");
    menu.setAttribute("aria-expanded", String(!side.classList.contains("folded")));
  }
  const closer = event.target.closest("[data-close-dialog]");
  if (closer) { closer.closest("dialog").close(); event.preventDefault(); }
});
window.addEventListener("DOMContentLoaded", () => {
  const dialog = document.querySelector("dialog[data-open-on-load]");
  if (dialog) dialog.showModal();
  // Pool bars are filled here, not by style attributes: the console's Content-Security-Policy allows no inline style.
  for (const bar of document.querySelectorAll("[data-fill]")) bar.style.width = `${bar.dataset.fill}%`;
  // A table wider than the screen scrolls inside itself; the keyboard can scroll it once it takes the focus.
  const reachable = () => {
    for (const box of document.querySelectorAll("main table, main .scroll")) {
      if (box.scrollWidth > box.clientWidth + 1) box.tabIndex = 0; else box.removeAttribute("tabindex");
    }
  };
  reachable();
  window.addEventListener("resize", reachable);
  // Times are written in UTC; shown in the browser's own time zone, with the UTC time on hover.
  const local = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  for (const time of document.querySelectorAll("time[datetime]")) time.textContent = local.format(new Date(time.dateTime));
});
