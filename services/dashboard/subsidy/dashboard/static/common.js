// What the dashboard's two pages share: building elements (every value is set as text, never
// as HTML: enterprise names come from outside), the year filter in the URL, and the chart.
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  // Distinct colours for up to 12 series (measures or districts), then repeated.
  var PALETTE = ["#c8102e", "#0b5cad", "#1a7f37", "#b26a00", "#6f42c1", "#0a8a8a",
    "#d63384", "#5c6b7a", "#8a6d00", "#2f6f4f", "#9a3412", "#334155"];

  function byId(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = text; }
    return e;
  }
  function cell(row, text, cls) {
    var td = el("td", cls, text);
    row.appendChild(td);
    return td;
  }
  // A money cell: short (万元/亿元) or in full, the full amount always in its tooltip.
  function money(row, text, full, cls) {
    var td = cell(row, text, "num" + (cls ? " " + cls : ""));
    if (full) { td.title = full; }
    return td;
  }
  function fill(parent, children) { parent.replaceChildren.apply(parent, children); }
  function count(n) { return n.toLocaleString("zh-CN"); }

  // ?year=2026 reproduces a view; absent: every year.
  function year() { return new URLSearchParams(location.search).get("year") || ""; }
  function withYear(path, extra) {
    var q = new URLSearchParams(extra || {});
    if (year()) { q.set("year", year()); }
    var s = q.toString();
    return s ? path + (path.indexOf("?") < 0 ? "?" : "&") + s : path;
  }
  // A link to an enterprise's view, relative to `base` ("" on the board, "../" below it).
  function enterpriseLink(base, id, name) {
    var a = el("a", "ent", name || id);
    a.href = withYear(base + "enterprise/" + encodeURIComponent(id));
    a.title = id;
    a.dataset.enterprise = id;
    return a;
  }

  function svg(tag, attrs, parent) {
    var e = document.createElementNS(SVG, tag);
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, String(attrs[k])); });
    if (parent) { parent.appendChild(e); }
    return e;
  }

  // Stacked monthly bars: `months` on x, one segment per series (values in fen), `ticks`
  // (fen and label, from the server) on y. Drawn to the box's width: it fits a phone.
  function chart(box, legend, months, series, ticks) {
    var width = Math.max(240, Math.floor(box.clientWidth || 0));
    // Room on the left for the longest axis label (CJK glyphs about twice as wide as digits).
    var left = 10 + ticks.reduce(function (w, t) {
      return Math.max(w, Array.from(t.label).reduce(function (n, ch) {
        return n + (ch.charCodeAt(0) > 255 ? 11 : 6.5);
      }, 0));
    }, 0);
    var height = 240, right = 8, top = 10, bottom = 28;
    var top_ = ticks.length ? ticks[ticks.length - 1].fen : 0;
    var root = svg("svg", { viewBox: "0 0 " + width + " " + height, width: width,
      height: height, role: "img", "aria-label": "月度拨付趋势" });
    var plotW = width - left - right, plotH = height - top - bottom;
    var y = function (fen) { return top + plotH - (top_ > 0 ? fen / top_ * plotH : 0); };
    ticks.forEach(function (t) {
      svg("line", { x1: left, x2: width - right, y1: y(t.fen), y2: y(t.fen),
        stroke: "#e3e8ee" }, root);
      svg("text", { x: left - 6, y: y(t.fen) + 4, "text-anchor": "end" }, root)
        .textContent = t.label;
    });
    var step = months.length ? plotW / months.length : 0;
    var every = Math.max(1, Math.ceil(months.length * 52 / Math.max(plotW, 1)));
    months.forEach(function (m, i) {
      var base = 0;
      series.forEach(function (s, k) {
        var v = s.values[i];
        if (v <= 0) { return; }
        var rect = svg("rect", { x: left + i * step + step * 0.15, width: Math.max(1, step * 0.7),
          y: y(base + v), height: Math.max(0.5, y(base) - y(base + v)),
          fill: PALETTE[k % PALETTE.length] }, root);
        rect.dataset.month = m;
        rect.dataset.key = s.key;
        svg("title", {}, rect).textContent = m + " " + s.label + " " + s.labels[i];
        base += v;
      });
      if (i % every === 0) {
        svg("text", { x: left + i * step + step / 2, y: height - 8, "text-anchor": "middle" },
          root).textContent = m;
      }
    });
    fill(box, months.length ? [root] : [el("div", "empty", "所选年度暂无拨付")]);
    fill(legend, series.map(function (s, k) {
      var item = el("span");
      item.dataset.key = s.key;
      var sw = el("span", "sw");
      sw.style.background = PALETTE[k % PALETTE.length];
      item.append(sw, document.createTextNode(s.label + " "), el("span", "amt", s.totalShort));
      item.title = (s.title ? s.title + " " : "") + s.total;
      return item;
    }));
  }

  window.Dash = { byId: byId, el: el, cell: cell, money: money, fill: fill, count: count,
    year: year, withYear: withYear, enterpriseLink: enterpriseLink, chart: chart };
})();
