// The inspector page: events arrive over server-sent events as HTML the
// server rendered (and escaped); this script only places them, copies flow
// names, fills the flow template from the selected event (with text nodes,
// never markup) and calls the control API for the buttons.
"use strict";
(() => {
  const list = document.getElementById("events");
  const status = document.getElementById("status");
  const live = document.getElementById("live");
  const template = document.getElementById("template");
  const filled = document.getElementById("filled");
  const limit = Number(list.dataset.limit) || 100;
  // Follows the newest event until the user picks one.
  let picked = null;

  const cards = () => list.querySelectorAll("article.event");

  function selected() {
    if (picked && list.contains(picked)) return picked;
    picked = null;
    return cards()[0] || null;
  }

  function show() {
    const card = selected();
    for (const c of cards()) c.classList.toggle("selected", c === card);
    fill(card);
  }

  // The value at a flow path (".order.receipt", "[0]", ".gallery[1]").
  function lookup(payload, path) {
    let value = payload;
    for (const [, key, index] of path.matchAll(/\.([^.[\]]+)|\[(\d+)\]/g)) {
      if (value === null || typeof value !== "object") return undefined;
      value = key !== undefined ? (Array.isArray(value) ? undefined : value[key]) : value[Number(index)];
      if (value === undefined) return undefined;
    }
    return value;
  }

  function fill(card) {
    filled.replaceChildren();
    if (!card) {
      filled.textContent = "(no event yet)";
      return;
    }
    let payload;
    try {
      payload = JSON.parse(card.dataset.payload);
    } catch {
      filled.textContent = "(this event's payload is not shown)";
      return;
    }
    const text = template.value;
    let last = 0;
    for (const m of text.matchAll(/\{\{\s*trigger((?:\.[^.[\]{}\s]+|\[\d+\])*)\s*\}\}/g)) {
      filled.append(text.slice(last, m.index));
      const value = lookup(payload, m[1]);
      const span = document.createElement("span");
      if (value === undefined) {
        span.className = "missing";
        span.title = "no value at this path in the selected event";
        span.textContent = m[0];
      } else {
        span.className = "filled";
        span.textContent = typeof value === "string" ? value : JSON.stringify(value);
      }
      filled.append(span);
      last = m.index + m[0].length;
    }
    filled.append(text.slice(last));
  }

  list.addEventListener("click", (e) => {
    const copy = e.target.closest("button.flow");
    if (copy) {
      const done = () => {
        copy.classList.add("copied");
        setTimeout(() => copy.classList.remove("copied"), 900);
      };
      if (navigator.clipboard) navigator.clipboard.writeText(copy.dataset.copy).then(done, () => {});
      return;
    }
    if (e.target.closest("a, summary, video, audio, iframe")) return;
    const card = e.target.closest("article.event");
    if (card) {
      picked = card;
      show();
    }
  });
  template.addEventListener("input", () => fill(selected()));

  for (const button of document.querySelectorAll("button[data-url]")) {
    button.addEventListener("click", async () => {
      if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
      const init = { method: button.dataset.method };
      if (button.dataset.body) {
        init.headers = { "content-type": "application/json" };
        init.body = button.dataset.body;
      }
      const answer = await fetch(button.dataset.url, init);
      if (!answer.ok) window.alert((await answer.json()).error);
    });
  }

  const stream = new EventSource("/_emulator/inspector/stream");
  stream.addEventListener("open", () => {
    live.textContent = "live";
    live.classList.add("on");
  });
  stream.addEventListener("error", () => {
    live.textContent = "reconnecting…";
    live.classList.remove("on");
  });
  stream.addEventListener("update", (e) => {
    const update = JSON.parse(e.data);
    status.innerHTML = update.status;
    if (update.replace) {
      list.innerHTML = update.events;
    } else {
      list.insertAdjacentHTML("afterbegin", update.events);
      const all = cards();
      for (let i = limit; i < all.length; i++) all[i].remove();
    }
    show();
  });
  show();
})();
