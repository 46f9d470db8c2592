// The fleet wall refreshes itself (a duty room keeps it open on a wall): every data-refresh
// seconds the page is fetched again and the wall's part replaced, keeping filters and scroll.
// If the server cannot be reached, the wall says so (data-stale) and keeps what it shows.
"use strict";

function refreshWall(wall) {
  const seconds = Number(wall.dataset.refresh || "0");
  if (!seconds) return;
  const tick = async () => {
    try {
      const reply = await fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } });
      if (!reply.ok || reply.redirected) throw new Error(String(reply.status));
      const doc = new DOMParser().parseFromString(await reply.text(), "text/html");
      const fresh = doc.getElementById("fleet-wall");
      if (!fresh) throw new Error("no wall in the answer");
      wall.replaceChildren(...fresh.childNodes);
      wall.classList.remove("stale");
    } catch (err) {
      wall.classList.add("stale");
      const status = wall.querySelector(".fleet-updated");
      if (status) status.textContent = wall.dataset.stale;
    }
    window.setTimeout(tick, seconds * 1000);
  };
  window.setTimeout(tick, seconds * 1000);
}

document.addEventListener("DOMContentLoaded", () => {
  const wall = document.getElementById("fleet-wall");
  if (wall) refreshWall(wall);
});
