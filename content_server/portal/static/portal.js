// Portal behaviour: upload progress, live availability check, previews, timeline explanations.
// Plain JS loaded from our own origin (the CSP forbids inline script); every user-visible
// string comes from data- attributes the server filled from its translation table.
"use strict";

function jsonError(xhrText, fallback) {
  try {
    const body = JSON.parse(xhrText);
    if (body.reason && body.reason.zh && body.reason.en) {  // the server's reason in both languages
      return (document.documentElement.lang || "").startsWith("zh") ? body.reason.zh : body.reason.en;
    }
    if (typeof body.detail === "string") return body.detail;
    if (body.detail && body.detail.message) return body.detail.message;
    if (Array.isArray(body.detail)) return body.detail.map((d) => d.msg || String(d)).join("; ");
    if (body.error && body.error.message) return body.error.message;
    if (body.message) return body.message;
  } catch (e) { /* not JSON */ }
  return fallback;
}

function setupUpload(form) {
  const input = form.querySelector("input[type=file]");
  const bar = form.querySelector("progress");
  const status = form.querySelector(".upload-status");
  const button = form.querySelector("button[type=submit]");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const files = Array.from(input.files);
    if (!files.length) { status.textContent = form.dataset.msgChoose; return; }
    button.disabled = true;
    let index = 0, refused = 0;
    const next = () => {
      if (index >= files.length) {
        button.disabled = false;
        if (!refused) { window.location.assign(form.dataset.done); }
        return;
      }
      const file = files[index++];
      // The server's upload API takes the raw bytes as the body (it streams them to disk).
      const title = form.querySelector("[name=title]");
      const query = "?filename=" + encodeURIComponent(file.name) +
        (title && title.value ? "&title=" + encodeURIComponent(title.value) : "");
      const xhr = new XMLHttpRequest();
      xhr.open("POST", form.dataset.endpoint + query);
      xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
      xhr.setRequestHeader("X-CSRF-Token", form.dataset.csrf);
      bar.value = 0; bar.hidden = false;
      status.textContent = form.dataset.msgUploading.replace("{name}", file.name).replace("{percent}", "0");
      xhr.upload.addEventListener("progress", (e) => {
        if (!e.lengthComputable) return;
        const percent = Math.round((e.loaded / e.total) * 100);
        bar.value = percent;
        bar.setAttribute("aria-valuenow", String(percent));
        status.textContent = form.dataset.msgUploading.replace("{name}", file.name).replace("{percent}", String(percent));
      });
      xhr.addEventListener("load", () => {
        if (xhr.status >= 200 && xhr.status < 300 && form.dataset.replace) {
          // replacing a library entry: the upload is a new entry; the page puts it in the old one's place
          bar.value = 100;
          const body = new FormData();
          body.append("csrf_token", form.dataset.csrf);
          body.append("upload_id", JSON.parse(xhr.responseText).id);
          body.append("fresh", xhr.status === 201 ? "yes" : "");
          fetch(form.dataset.replace, { method: "POST", body, credentials: "same-origin" })
            .then((r) => { window.location.assign(r.url); })
            .catch(() => { status.textContent = form.dataset.msgNetwork.replace("{name}", file.name); });
          return;
        }
        if (xhr.status >= 200 && xhr.status < 300) {
          bar.value = 100;
          status.textContent = form.dataset.msgDone.replace("{name}", file.name);
        } else {
          refused++;
          const li = document.createElement("li");
          li.textContent = form.dataset.msgRefused.replace("{name}", file.name)
            .replace("{reason}", jsonError(xhr.responseText, String(xhr.status)));
          form.querySelector(".upload-errors").append(li);
          form.querySelector(".upload-errors").hidden = false;
        }
        next();
      });
      xhr.addEventListener("error", () => {
        refused++;
        status.textContent = form.dataset.msgNetwork.replace("{name}", file.name);
        next();
      });
      xhr.send(file);
    };
    form.querySelector(".upload-errors").replaceChildren();
    next();
  });
}

function setupAvailability(form) {
  const box = document.getElementById(form.dataset.availability);
  let timer = null, seq = 0;
  const check = () => {
    const mine = ++seq;
    box.textContent = box.dataset.msgChecking;
    box.className = "availability";
    fetch(form.dataset.check, {
      method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: { "X-CSRF-Token": form.dataset.csrf },
    }).then((r) => r.json().then((body) => ({ ok: r.ok, body }))).then(({ ok, body }) => {
      if (mine !== seq) return;
      box.textContent = ok ? body.message : jsonError(JSON.stringify(body), box.dataset.msgFailed);
      // fits null: not filled in far enough to check yet (a hint, not an error)
      box.className = "availability" + (ok && body.fits === null ? "" : ok && body.fits ? " fits" : " nofit");
    }).catch(() => { if (mine === seq) box.textContent = box.dataset.msgFailed; });
  };
  const schedule = () => { clearTimeout(timer); timer = setTimeout(check, 350); };
  form.addEventListener("input", schedule);
  form.addEventListener("change", schedule);
  // a form shown again with what was typed (an error, a change) is checked at once; a new one waits
  if (form.querySelector("input[name=name]").value && form.querySelector("input[name=media_ids]:checked")) check();
}

function setupPreviews(form) {
  // Each frame shows what its screen shape plays, as the server decides it: when the chosen media
  // come in both shapes, each plays on its own shape; otherwise every screen plays the first.
  const frames = document.querySelectorAll("[data-preview-target]");
  const update = () => {
    const picked = Array.from(form.querySelectorAll("input[name=media_ids]:checked"));
    const shapes = new Set(picked.flatMap((p) => p.dataset.shapes.split(" ")));
    const byShape = shapes.has("landscape") && shapes.has("portrait");
    frames.forEach((img) => {
      const shape = img.dataset.previewTarget;
      const chosen = picked.find((p) => !byShape || p.dataset.shapes.split(" ").includes(shape));
      if (chosen) { img.src = chosen.dataset.preview; img.hidden = false; }
      else { img.removeAttribute("src"); img.hidden = true; }
    });
  };
  form.addEventListener("change", update);
  update();
}

function setupTimeline(figure) {
  const panel = document.getElementById(figure.dataset.explainPanel);
  const ask = (query) => {
    panel.textContent = panel.dataset.msgLoading;
    fetch(figure.dataset.explain + "?at=" + encodeURIComponent(query), { credentials: "same-origin" })
      .then((r) => r.json().then((body) => ({ ok: r.ok, body })))
      .then(({ ok, body }) => { panel.textContent = ok ? body.text : jsonError(JSON.stringify(body), panel.dataset.msgFailed); })
      .catch(() => { panel.textContent = panel.dataset.msgFailed; });
  };
  // a click on the picture: the exact instant under the pointer (UTC, from the block's data)
  figure.addEventListener("click", (e) => {
    const rect = e.target.closest(".slot");
    if (!rect) return;
    const box = rect.getBoundingClientRect();
    const fraction = box.width ? (e.clientX - box.left) / box.width : 0;
    const start = Date.parse(rect.dataset.start), end = Date.parse(rect.dataset.end);
    ask(new Date(start + Math.min(Math.max(fraction, 0), 0.999) * (end - start)).toISOString());
  });
  // the keyboard's way: a time typed in the form below the picture (the screen's local time)
  const form = document.querySelector("form[data-explain-form]");
  if (form) {
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const value = form.querySelector("input[name=at]").value;
      if (value) ask(value.length === 16 ? value + ":00" : value);
    });
  }
}

function setupProcessing(box) {
  // A video being transcoded in the background: follow its progress, reload when it is done.
  const bar = box.querySelector("progress");
  const text = box.querySelector(".converting");
  const poll = () => {
    fetch(box.dataset.processing, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((r) => (r.ok ? r.json() : Promise.reject(r.status)))
      .then((m) => {
        const percent = Math.round((m.progress || 0) * 100);
        bar.value = percent;
        text.textContent = box.dataset.msgConverting.replace("{percent}", String(percent));
        if (m.status !== "processing") { window.location.reload(); return; }
        window.setTimeout(poll, 1500);
      })
      .catch(() => window.setTimeout(poll, 5000));
  };
  window.setTimeout(poll, 1500);
}

// Studio editor: every change re-renders both orientations on the server (debounced); a refusal names
// the fields to fix; saving stores the slides as media and keeps the fields for the next edit.
function setupStudioEditor(form) {
  const status = form.querySelector(".studio-status");
  const previews = document.querySelectorAll("img[data-preview]");
  const body = () => {
    const fields = {};
    form.querySelectorAll("[name]").forEach((el) => { if (el.value.trim() !== "") fields[el.name] = el.value; });
    const meta = (key) => { const el = form.querySelector(`[data-meta="${key}"]`); return el ? el.value : ""; };
    return {
      content: { design: form.dataset.design, palette: meta("palette"), language: meta("language"), fields },
      title: meta("title"),
      photo_media_id: meta("photo_media_id") || null,
    };
  };
  const send = (url, method, payload) => fetch(url, {
    method, credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": form.dataset.csrf },
    body: JSON.stringify(payload),
  });
  let timer = null, round = 0;
  const refresh = () => {
    const mine = ++round, payload = body();
    previews.forEach((img) => {
      const orientation = img.dataset.preview;
      const width = orientation === "landscape" ? 480 : 270;
      send(`/api/v1/studio/preview?orientation=${orientation}&width=${width}`, "POST", payload)
        .then((r) => r.ok ? r.blob().then((b) => ({ ok: true, b })) : r.json().then((j) => ({ ok: false, j })))
        .then((res) => {
          if (mine !== round) return;
          if (res.ok) {
            if (img.src.startsWith("blob:")) URL.revokeObjectURL(img.src);
            img.src = URL.createObjectURL(res.b);
            img.dataset.round = String(mine);
            status.textContent = "";
          } else {
            status.textContent = form.dataset.msgFix.replace("{problems}", res.j.detail || "");
          }
        })
        .catch(() => { status.textContent = form.dataset.msgNetwork; });
    });
  };
  const later = () => { clearTimeout(timer); timer = setTimeout(refresh, 350); };
  form.addEventListener("input", later);
  form.addEventListener("change", later);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const slide = form.dataset.slide;
    send(slide ? `/api/v1/studio/slides/${slide}` : "/api/v1/studio/slides", slide ? "PUT" : "POST", body())
      .then((r) => r.ok ? window.location.assign(form.dataset.done)
                        : r.json().then((j) => { status.textContent = form.dataset.msgFix.replace("{problems}", j.detail || ""); }))
      .catch(() => { status.textContent = form.dataset.msgNetwork; });
  });
  refresh();
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-processing]").forEach(setupProcessing);
  document.querySelectorAll("form[data-upload]").forEach(setupUpload);
  document.querySelectorAll("form[data-check]").forEach((f) => { setupAvailability(f); setupPreviews(f); });
  document.querySelectorAll("[data-explain]").forEach(setupTimeline);
  document.querySelectorAll("form[data-studio-editor]").forEach(setupStudioEditor);
});

document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-print]");
  if (button) { event.preventDefault(); window.print(); }
});
