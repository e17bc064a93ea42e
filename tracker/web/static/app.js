// wiki tracker: small progressive enhancements. Every page works without this file.
"use strict";

// History: keep "from" older than "to", the way MediaWiki's history does, by hiding the
// radio buttons that would make an impossible pair.
function setupCompare(form) {
  const rows = Array.from(form.querySelectorAll("li.rev"));
  function update() {
    const from = form.querySelector("input[name=from]:checked");
    const to = form.querySelector("input[name=to]:checked");
    const fromRev = from ? Number(from.value) : -Infinity;
    const toRev = to ? Number(to.value) : Infinity;
    for (const row of rows) {
      const rev = Number(row.dataset.revid);
      const f = row.querySelector("input[name=from]");
      const t = row.querySelector("input[name=to]");
      if (f) f.classList.toggle("off", rev >= toRev);
      if (t) t.classList.toggle("off", rev <= fromRev);
    }
  }
  form.addEventListener("change", update);
  update();
}

// Diff: switch between inline and side by side at once, keeping the URL bookmarkable.
function setupModes(diff) {
  for (const link of document.querySelectorAll(".modes a[data-mode]")) {
    link.addEventListener("click", (event) => {
      event.preventDefault();
      const mode = link.dataset.mode;
      diff.classList.remove("mode-inline", "mode-side");
      diff.classList.add("mode-" + mode);
      for (const other of document.querySelectorAll(".modes a[data-mode]")) {
        if (other === link) other.setAttribute("aria-current", "true");
        else other.removeAttribute("aria-current");
      }
      history.replaceState(null, "", link.href);
      // The Reader / Wikitext links keep the layout chosen here.
      for (const view of document.querySelectorAll(".views a[data-view]")) {
        const url = new URL(view.href);
        url.searchParams.set("mode", mode);
        view.href = url.toString();
      }
    });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("compare");
  if (form) setupCompare(form);
  const diff = document.querySelector(".diff[data-mode]");
  if (diff) setupModes(diff);
});
