"""The preview page: phone and desktop frames, text, headers, source, light/dark and language switches, outbox,
live reload.

Static HTML + a little script; every value from the server goes into the page with ``textContent``.
The light/dark switch asks the server for the mail with its ``prefers-color-scheme: dark`` block forced
on or off (``?scheme=``) and sets ``color-scheme`` on the frames, so what you see is what a client in
that mode shows, whatever your own system setting is. The language switch (shown for a campaign with
translations) asks for the rendered file in one of its languages (``?lang=``).
"""

from __future__ import annotations

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Preview · solidarity-mailer</title>
<style>
:root{color-scheme:light;font-family:system-ui,-apple-system,Segoe UI,Roboto,Noto Sans,sans-serif;font-size:15px}
body{margin:0;background:#e9e6e1;color:#1c1c1c}
header{display:flex;flex-wrap:wrap;gap:12px;align-items:center;padding:10px 16px;background:#1c1c1c;color:#fff}
header h1{font-size:16px;margin:0 12px 0 0}
header .file{font-family:ui-monospace,monospace;font-size:13px;opacity:.85;overflow-wrap:anywhere}
button{font:inherit;cursor:pointer;border:1px solid #888;background:#fff;color:#1c1c1c;border-radius:4px;
padding:4px 10px}
button[aria-pressed=true]{background:#a3141b;border-color:#a3141b;color:#fff}
#error{display:none;margin:12px 16px;padding:10px 14px;background:#fde2e2;color:#7a0b0b;border:1px solid #e5a3a3;
white-space:pre-wrap;font-family:ui-monospace,monospace}
main{padding:12px 16px}
.frames{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}
figure{margin:0}
figcaption{font-size:13px;color:#555;margin:0 0 4px}
iframe{border:1px solid #bbb;background:#fff;height:760px;display:block;box-sizing:content-box}
#phone{width:375px}
#desktop{width:800px;max-width:calc(100vw - 40px)}
section{margin:20px 0}
h2{font-size:15px;margin:0 0 6px}
pre{background:#fff;border:1px solid #ccc;padding:10px;white-space:pre-wrap;overflow-wrap:anywhere;max-height:480px;
overflow:auto;font-size:13px;margin:0}
table{border-collapse:collapse;background:#fff;font-size:13px;width:100%}
td{border:1px solid #ddd;padding:3px 6px;vertical-align:top;overflow-wrap:anywhere}
td:first-child{font-weight:600;white-space:nowrap}
#outbox-list{list-style:none;margin:0;padding:0}
#outbox-list li{margin:0 0 4px}
#outbox-list button{text-align:left;width:100%;max-width:800px}
.muted{color:#555}
</style>
</head>
<body>
<header>
<h1>solidarity-mailer preview</h1>
<span class="file" id="showing"></span>
<span role="group" aria-label="Colour scheme">
<button type="button" id="theme-light" aria-pressed="true">Light</button>
<button type="button" id="theme-dark" aria-pressed="false">Dark</button>
</span>
<span role="group" aria-label="Language" id="languages"></span>
<button type="button" id="show-preview">Rendered file</button>
<span id="status" class="file"></span>
</header>
<div id="error" role="alert"></div>
<main>
<div class="frames">
<figure><figcaption>Phone, 375 px</figcaption>
<iframe id="phone" title="Mail at phone width"
sandbox="allow-same-origin allow-popups allow-popups-to-escape-sandbox"></iframe></figure>
<figure><figcaption>Desktop, 800 px</figcaption>
<iframe id="desktop" title="Mail at desktop width"
sandbox="allow-same-origin allow-popups allow-popups-to-escape-sandbox"></iframe>
</figure>
</div>
<section><h2>Plain-text part</h2><pre id="text"></pre></section>
<section><h2>Headers</h2><table><tbody id="headers"></tbody></table></section>
<section><h2>Raw source</h2><pre id="source"></pre></section>
<section><h2>Outbox <span class="muted" id="outbox-dir"></span></h2>
<p class="muted" id="outbox-empty">No captured messages.</p><ul id="outbox-list"></ul></section>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
let base = "/preview", label = "", scheme = localStorage.getItem("sm-scheme") || "light";
let version = null, outboxVersion = null, loads = 0, fileName = "", lang = "", languages = "";

function langQuery(sep) {
  return base === "/preview" && lang ? sep + "lang=" + encodeURIComponent(lang) : "";
}

function setLanguages(list) {
  if (list.join(" ") === languages) return;
  languages = list.join(" ");
  if (!list.includes(lang)) lang = list.length ? list[0] : "";
  const group = $("languages");
  group.replaceChildren();
  if (list.length < 2) return;
  for (const code of list) {
    const b = document.createElement("button");
    b.type = "button";
    b.dataset.lang = code;
    b.textContent = code;
    b.setAttribute("aria-pressed", String(code === lang));
    b.addEventListener("click", () => setLanguage(code));
    group.appendChild(b);
  }
}

function setLanguage(code) {
  lang = code;
  for (const b of $("languages").children) b.setAttribute("aria-pressed", String(b.dataset.lang === code));
  show("/preview", fileName + " [" + code + "]");
}

async function get(url, kind) {
  const r = await fetch(url, {cache: "no-store"});
  return kind === "json" ? r.json() : r.text();
}

function setScheme(s) {
  scheme = s;
  localStorage.setItem("sm-scheme", s);
  $("theme-light").setAttribute("aria-pressed", String(s === "light"));
  $("theme-dark").setAttribute("aria-pressed", String(s === "dark"));
  loadFrames();
}

function loadFrames() {
  const q = "?scheme=" + scheme + "&v=" + encodeURIComponent(version || "") + "&n=" + (++loads) + langQuery("&");
  for (const f of [$("phone"), $("desktop")]) {
    f.style.colorScheme = scheme;
    f.src = base + "/html" + q;
  }
}

async function loadParts() {
  loadFrames();
  $("showing").textContent = label;
  $("text").textContent = await get(base + "/text" + langQuery("?"));
  const rows = await get(base + "/headers" + langQuery("?"), "json");
  const body = $("headers");
  body.replaceChildren();
  for (const [name, value] of Array.isArray(rows) ? rows : []) {
    const tr = document.createElement("tr");
    for (const cell of [name, value]) {
      const td = document.createElement("td");
      td.textContent = cell;
      tr.appendChild(td);
    }
    body.appendChild(tr);
  }
  $("source").textContent = await get(base + "/source" + langQuery("?"));
  document.body.dataset.loaded = String(loads);
}

async function loadOutbox() {
  const rows = await get("/outbox", "json");
  const list = $("outbox-list");
  list.replaceChildren();
  $("outbox-empty").style.display = rows.length ? "none" : "";
  for (const row of rows) {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button";
    b.dataset.name = row.name;
    b.textContent = row.name + " \\u2014 " + row.to + " \\u2014 " + row.subject + " (" + row.size + " bytes)";
    b.addEventListener("click", () => show("/outbox/" + encodeURIComponent(row.name), "outbox: " + row.name));
    li.appendChild(b);
    list.appendChild(li);
  }
}

function show(newBase, newLabel) {
  base = newBase;
  label = newLabel;
  loadParts();
}

async function poll() {
  try {
    const v = await get("/version", "json");
    $("error").style.display = v.error ? "block" : "none";
    $("error").textContent = v.error || "";
    $("outbox-dir").textContent = "(" + v.outbox + ")";
    $("status").textContent = "watching";
    setLanguages(Array.isArray(v.languages) ? v.languages : []);
    if (v.version !== version) {
      version = v.version;
      fileName = v.file;
      if (base === "/preview" && !v.error) { label = fileName; loadParts(); }
    }
    if (v.outbox_version !== outboxVersion) { outboxVersion = v.outbox_version; loadOutbox(); }
  } catch (e) {
    $("status").textContent = "server not reachable";
  }
}

// Frames grow to their content's height, so the phone frame has no scrollbar eating its 375 px.
// (allow-same-origin without allow-scripts: the mail's own scripts never run; its CSP forbids them too.)
for (const f of [$("phone"), $("desktop")]) {
  f.addEventListener("load", () => {
    const doc = f.contentDocument;
    if (doc && doc.documentElement) { f.style.height = Math.max(200, doc.documentElement.scrollHeight) + "px"; }
  });
}
$("theme-light").addEventListener("click", () => setScheme("light"));
$("theme-dark").addEventListener("click", () => setScheme("dark"));
$("show-preview").addEventListener("click", () => show("/preview", fileName));
$("theme-light").setAttribute("aria-pressed", String(scheme === "light"));
$("theme-dark").setAttribute("aria-pressed", String(scheme === "dark"));
poll();
setInterval(poll, 1000);
</script>
</body>
</html>
"""
