// stax flame graph: zoom on click, reset, search with match percentage, hover details.
// Layout numbers come from data-* attributes of the root <svg>; each frame is a
// <g class="f" data-s="first unit" data-n="units"> holding <title>, <rect>, <text>
// (units are samples, or blocked ns in off-CPU graphs: data-unit names them).
"use strict";
var cfg, frames = [], details, matched, unzoomButton, searchButton;
var zoomedTo = null, highlighted = false;

function init() {
  var root = document.documentElement;
  cfg = {
    xpad: +root.getAttribute("data-xpad"),
    plotWidth: +root.getAttribute("data-plot-width"),
    total: +root.getAttribute("data-total"),
    unit: root.getAttribute("data-unit") || "samples",
    inverted: root.getAttribute("data-inverted") === "1",
    charWidth: +root.getAttribute("data-char-width")
  };
  details = document.getElementById("details");
  matched = document.getElementById("matched");
  unzoomButton = document.getElementById("unzoom");
  searchButton = document.getElementById("search");
  var groups = document.getElementById("frames").getElementsByTagName("g");
  for (var i = 0; i < groups.length; i++) {
    var g = groups[i];
    var rect = g.getElementsByTagName("rect")[0];
    var lines = g.getElementsByTagName("title")[0].textContent.split("\n");
    frames.push({
      g: g, rect: rect, text: g.getElementsByTagName("text")[0],
      s: +g.getAttribute("data-s"), n: +g.getAttribute("data-n"),
      y: +rect.getAttribute("y"), fill: rect.getAttribute("fill"),
      name: lines[0], info: lines.slice(1).join(", ")
    });
    g.frameIndex = i;
  }
  var area = document.getElementById("frames");
  area.addEventListener("click", function (e) { var f = frameOf(e); if (f) zoom(f); });
  area.addEventListener("mouseover", function (e) {
    var f = frameOf(e);
    if (f) details.textContent = f.name + " (" + f.info + ")";
  });
  area.addEventListener("mouseout", function () { details.textContent = " "; });
  unzoomButton.addEventListener("click", unzoom);
  searchButton.addEventListener("click", function () {
    if (highlighted) clearSearch(); else searchPrompt();
  });
  document.addEventListener("keydown", function (e) {
    if ((e.ctrlKey || e.metaKey) && e.key === "f") { e.preventDefault(); searchPrompt(); }
    else if (e.key === "Escape") { unzoom(); clearSearch(); }
  });
}

function frameOf(e) {
  var node = e.target;
  while (node && node.frameIndex === undefined) node = node.parentNode;
  return node ? frames[node.frameIndex] : null;
}

function fitText(name, width) {
  var fits = Math.floor((width - 6) / cfg.charWidth);
  if (fits < 3) return "";
  if (name.length <= fits) return name;
  return name.substring(0, fits - 2) + "..";
}

function place(f, x, width) {
  f.rect.setAttribute("x", x.toFixed(2));
  f.rect.setAttribute("width", width.toFixed(2));
  f.text.setAttribute("x", (x + 3).toFixed(2));
  f.text.textContent = fitText(f.name, width);
}

// Is frame a nearer the root than frame b?  Root at the bottom unless inverted.
function outerThan(a, b) { return cfg.inverted ? a.y < b.y : a.y > b.y; }

function zoom(target) {
  zoomedTo = target;
  var start = target.s, end = target.s + target.n, scale = cfg.plotWidth / target.n;
  for (var i = 0; i < frames.length; i++) {
    var f = frames[i], fEnd = f.s + f.n;
    f.g.classList.remove("hide", "parent");
    if (fEnd <= start || f.s >= end) {
      f.g.classList.add("hide");
    } else if (f !== target && outerThan(f, target)) {
      f.g.classList.add("parent");   // a caller of the zoomed frame: full width, faded
      place(f, cfg.xpad, cfg.plotWidth);
    } else {
      place(f, cfg.xpad + (f.s - start) * scale, f.n * scale);
    }
  }
  unzoomButton.classList.remove("hide");
}

function unzoom() {
  if (zoomedTo === null) return;
  zoomedTo = null;
  var scale = cfg.plotWidth / cfg.total;
  for (var i = 0; i < frames.length; i++) {
    var f = frames[i];
    f.g.classList.remove("hide", "parent");
    place(f, cfg.xpad + f.s * scale, f.n * scale);
  }
  unzoomButton.classList.add("hide");
}

function searchPrompt() {
  var term = window.prompt("Search for functions (regular expression or text):", "");
  if (term) search(term);
}

function search(term) {
  var re;
  try { re = new RegExp(term); }
  catch (err) { re = new RegExp(term.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")); }
  var spans = [];
  for (var i = 0; i < frames.length; i++) {
    var f = frames[i];
    if (re.test(f.name)) {
      f.rect.setAttribute("fill", "HIGHLIGHT_COLOUR");
      spans.push([f.s, f.s + f.n]);
    } else {
      f.rect.setAttribute("fill", f.fill);
    }
  }
  // A match nested in another covers the same samples: count the union of spans.
  spans.sort(function (a, b) { return a[0] - b[0]; });
  var covered = 0, end = -1;
  for (var j = 0; j < spans.length; j++) {
    var s = Math.max(spans[j][0], end), e = spans[j][1];
    if (e > s) { covered += e - s; end = e; }
  }
  highlighted = true;
  searchButton.textContent = "Reset Search";
  matched.textContent = "Matched: " + (100 * covered / cfg.total).toFixed(2) + "% of " + cfg.unit + " ("
    + spans.length + " frames)";
}

function clearSearch() {
  if (!highlighted) return;
  for (var i = 0; i < frames.length; i++) frames[i].rect.setAttribute("fill", frames[i].fill);
  highlighted = false;
  searchButton.textContent = "Search";
  matched.textContent = " ";
}

window.addEventListener("load", init);
