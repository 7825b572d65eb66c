// The live board: draws each state the server sends (first fetched, then streamed) for the
// year in the URL; the panels, the drill-down to enterprises, the payouts' cards.
(function () {
  "use strict";
  var D = window.Dash, byId = D.byId, el = D.el, cell = D.cell, fill = D.fill, count = D.count;
  var state = { version: 0 };
  var seen = new Set();
  var trendBy = "byMeasure";

  function bar(row, value, max) {
    var td = cell(row, "", "bar");
    var span = el("span");
    span.style.width = (max > 0 ? Math.max(0, value) / max * 100 : 0) + "%";
    td.appendChild(span);
  }
  function maxGranted(items) {
    return items.reduce(function (m, x) { return Math.max(m, x.grantedFen); }, 0);
  }
  function kpi(id, text, full) {
    byId(id).textContent = text;
    if (full) { byId(id).title = full; }
  }

  function renderYears(s) {
    var select = byId("year");
    var chosen = D.year();
    if (select.options.length !== (s.years || []).length + 1) {
      fill(select, [el("option", "", "全部年度")].concat((s.years || []).map(function (y) {
        var o = el("option", "", y + "年");
        o.value = String(y);
        return o;
      })));
      select.options[0].value = "";
    }
    select.value = chosen;
    byId("export").href = D.withYear("export.xlsx");
  }

  function renderTotals(s) {
    byId("policy").textContent = s.policy ? "《" + s.policy + "》" : "";
    kpi("total-granted", s.overall.grantedShort, s.overall.granted);
    kpi("total-paid", count(s.overall.paid));
    kpi("total-entitlements", count(s.overall.entitlements));
    kpi("total-decisions", count(s.overall.decisions));
    kpi("total-clawback", s.overall.clawbackShort, s.overall.clawback);

    var mMax = maxGranted(s.byMeasure);
    fill(byId("by-measure").tBodies[0], s.byMeasure.map(function (m) {
      var tr = el("tr", "drill");
      tr.dataset.measure = String(m.measure);
      cell(tr, m.label, "label");
      cell(tr, m.title);
      cell(tr, count(m.entitlements), "num");
      D.money(tr, m.grantedShort, m.granted, "granted");
      bar(tr, m.grantedFen, mMax);
      tr.addEventListener("click", function () { drill({ measure: String(m.measure) }); });
      return tr;
    }));

    var dMax = maxGranted(s.byDistrict);
    fill(byId("by-district").tBodies[0], s.byDistrict.map(function (d) {
      var tr = el("tr", "drill");
      tr.dataset.district = d.district;
      cell(tr, d.name);
      cell(tr, count(d.entitlements), "num");
      D.money(tr, d.grantedShort, d.granted, "granted");
      bar(tr, d.grantedFen, dMax);
      tr.addEventListener("click", function () { drill({ district: d.district }); });
      return tr;
    }));

    fill(byId("by-status"), s.byStatus.map(function (x) {
      var box = el("div", "status");
      box.dataset.status = x.status;
      box.append(el("div", "n", count(x.count)), el("div", "s", x.label));
      return box;
    }));
  }

  function renderTrends(t) {
    if (!t) { return; }
    document.querySelectorAll("#trend-tabs button").forEach(function (b) {
      b.className = b.dataset.by === trendBy ? "on" : "";
    });
    D.chart(byId("trend-chart"), byId("trend-legend"), t.months, t[trendBy], t.ticks);
  }

  function renderChannels(rows) {
    fill(byId("channels").tBodies[0], (rows || []).map(function (c) {
      var tr = el("tr");
      tr.dataset.channel = c.channel;
      cell(tr, c.channel, "label");
      D.money(tr, c.grantedShort, c.granted, "granted");
      D.money(tr, c.orderedShort, c.ordered);
      D.money(tr, c.paidOutShort, c.paidOut, "paid-out");
      D.money(tr, c.inBatchShort, c.inBatch);
      D.money(tr, c.pendingShort, c.pending);
      D.money(tr, c.budgetLoaded ? c.envelopeShort : "未载入预算", c.envelope);
      cell(tr, c.used, "num");
      return tr;
    }));
  }

  function renderCaps(caps) {
    caps = caps || { rules: [], near: [], nearTotal: 0 };
    fill(byId("caps").tBodies[0], caps.rules.map(function (r) {
      var tr = el("tr");
      tr.dataset.rule = r.ruleId;
      tr.dataset.year = String(r.year);
      cell(tr, r.rule);
      cell(tr, String(r.year), "num");
      cell(tr, count(r.enterprises), "num");
      D.money(tr, r.grantedShort, r.granted, "granted");
      D.money(tr, r.capShort, r.cap, "cap");
      cell(tr, r.used, "num");
      cell(tr, count(r.nearCap), "num");
      return tr;
    }));
    fill(byId("near-cap").tBodies[0], caps.near.map(function (n) {
      var tr = el("tr");
      tr.dataset.enterprise = n.enterpriseId;
      cell(tr, "", "label").appendChild(D.enterpriseLink("", n.enterpriseId, n.enterpriseName));
      cell(tr, n.rule);
      cell(tr, String(n.year), "num");
      D.money(tr, n.granted, null, "granted");
      D.money(tr, n.cap, null, "cap");
      cell(tr, n.used, "num");
      return tr;
    }));
  }

  // Drill-down from a measure or a district: its enterprises, the largest grant first; the
  // row's filter goes into the URL with the year, so the link reproduces it.
  function drill(filter) {
    var q = new URLSearchParams(location.search);
    q.delete("district"); q.delete("measure");
    Object.keys(filter).forEach(function (k) { q.set(k, filter[k]); });
    history.replaceState(null, "", "?" + q.toString());
    loadEnterprises();
  }
  function scopeName(district, measure) {
    var rows = district ? (state.byDistrict || []) : (state.byMeasure || []);
    var row = rows.find(function (r) {
      return district ? r.district === district : String(r.measure) === measure;
    });
    return row ? (district ? row.name : row.label + " " + row.title) : (district || "第" + measure + "条");
  }
  function loadEnterprises() {
    var q = new URLSearchParams(location.search);
    var district = q.get("district"), measure = q.get("measure");
    if (!district && !measure) { return; }
    var section = byId("enterprises-section");
    section.hidden = false;
    document.querySelectorAll("tr.drill").forEach(function (tr) {
      tr.classList.toggle("on", (district && tr.dataset.district === district) ||
        (measure && tr.dataset.measure === measure));
    });
    var filter = district ? { district: district } : { measure: measure };
    fetch(D.withYear("api/enterprises", filter)).then(function (r) {
      return r.json().then(function (body) { return r.ok ? body : Promise.reject(body); });
    }).then(function (body) {
        var rows = body.enterprises;
        byId("enterprises-scope").textContent = scopeName(district, measure) + " · " +
          rows.length + "家";
        section.dataset.scope = district ? "district:" + district : "measure:" + measure;
        fill(byId("enterprises").tBodies[0], rows.map(function (e) {
          var tr = el("tr");
          tr.dataset.enterprise = e.enterpriseId;
          cell(tr, "", "label").appendChild(D.enterpriseLink("", e.enterpriseId, e.enterpriseName));
          cell(tr, e.districtName);
          cell(tr, count(e.entitlements), "num");
          cell(tr, count(e.paid), "num");
          D.money(tr, e.grantedShort, e.granted, "granted");
          return tr;
        }));
        section.dataset.loaded = "1";
      }).catch(function (body) {
        byId("enterprises-scope").textContent = (body && body.error) || "暂时无法读取";
        section.dataset.loaded = "error";  // the next click tries again
      });
  }

  // One figure of a card: its label over its amount; `key` names it for the tests.
  function fig(key, label, text, title) {
    var box = el("div");
    box.dataset.fig = key;
    if (title) { box.title = title; }
    box.append(el("dt", "", label), el("dd", "", text));
    return box;
  }
  function card(row, total) {
    var box = el("div", "card");
    box.dataset.channel = row.channel;
    box.dataset.year = String(row.year);
    var head = el("div", "head");
    head.append(el("span", "channel", row.channel), el("span", "muted", row.year + "年度"));
    if (total) { head.appendChild(el("span", "total", total)); }
    box.appendChild(head);
    return box;
  }
  function orders(n) { return count(n) + "笔"; }

  function disbursementCard(d) {
    var box = card(d, "应拨付 " + d.granted);
    var figs = el("dl", "figs");
    figs.append(
      fig("paidOut", "已发放", d.paidOut, orders(d.paidOutOrders)),
      fig("inBatch", "发放中", d.inBatch, orders(d.inBatchOrders)),
      fig("payable", "待推送", d.payable, orders(d.payableOrders)),
      fig("waiting", "暂缓推送", d.waiting, orders(d.waitingOrders)),
      fig("setOff", "已抵扣", d.setOff, "全额抵扣 " + orders(d.settledOrders)),
      fig("outstanding", "应收未收回", d.outstanding, "应收合计 " + d.receivables));
    box.appendChild(figs);
    var held = d.holds.filter(function (h) { return h.orders > 0; });
    if (held.length) {
      var holds = el("div", "holds");
      held.forEach(function (h) {
        var chip = el("span", "hold", h.label + " " + h.amount);
        chip.dataset.hold = h.hold;
        chip.title = orders(h.orders);
        holds.appendChild(chip);
      });
      box.appendChild(holds);
    }
    box.appendChild(el("div", "note", "共" + orders(d.orders) + (d.time ? " · 更新于 " + d.time : "")));
    return box;
  }

  function budgetCard(b) {
    var box = card(b);
    var head = box.firstChild;
    b.alerts.forEach(function (a) {
      var badge = el("span", "badge a" + a.threshold, a.label);
      badge.dataset.threshold = String(a.threshold);
      badge.title = "预警时间：" + a.time;
      head.appendChild(badge);
    });
    var meter = el("div", "meter");
    var points = b.usedBasisPoints;
    if (points !== null && points >= 10000) { meter.className += " full"; }
    else if (points !== null && points >= 8000) { meter.className += " warn"; }
    var filled = el("span");
    filled.style.width = (points === null ? 0 : Math.min(points, 10000) / 100) + "%";
    meter.appendChild(filled);
    box.appendChild(meter);
    var figs = el("dl", "figs");
    figs.append(
      fig("envelope", "预算", b.loaded ? b.envelope : "未载入预算"),
      fig("committed", "已承诺", b.committed),
      fig("used", "执行率", b.used),
      fig("remaining", "余额", b.remaining));
    box.appendChild(figs);
    return box;
  }

  // Nothing to show says why: the payouts hold nothing yet, or are not set up at all.
  function renderPayouts(p) {
    p = p || { available: false, disbursement: [], budget: [] };
    var none = p.available ? "暂无拨付数据" : "暂无拨付数据（资金拨付尚未启用）";
    fill(byId("disbursement"),
      p.disbursement.length ? p.disbursement.map(disbursementCard) : [el("div", "empty", none)]);
    fill(byId("budget"), p.budget.length ? p.budget.map(budgetCard) : [el("div", "empty", none)]);
  }

  function renderLatest(latest, highlight) {
    fill(byId("latest").tBodies[0], latest.map(function (d) {
      var tr = el("tr");
      tr.dataset.id = String(d.id);
      tr.title = d.decisionId;
      if (highlight && !seen.has(d.id)) { tr.className = "fresh"; }
      cell(tr, d.time, "label");
      cell(tr, "").appendChild(D.enterpriseLink("", d.enterpriseId, d.enterpriseName));
      cell(tr, d.districtName);
      cell(tr, d.rule).title = d.ruleId;
      cell(tr, "").appendChild(el("span", "tag " + d.status, d.statusLabel));
      cell(tr, d.granted, "num");
      cell(tr, d.cashDelta, "num");
      return tr;
    }));
    latest.forEach(function (d) { seen.add(d.id); });
  }

  // States come from the first fetch and from the stream; only a newer one is drawn.
  function apply(s) {
    if (!s || typeof s.version !== "number" || s.version < state.version) { return; }
    var first = state.version === 0;
    state = s;
    renderYears(s);
    renderTotals(s);
    renderTrends(s.trends);
    renderChannels(s.channels);
    renderCaps(s.caps);
    renderPayouts(s.payouts);
    renderLatest(s.latest || [], !first);
    document.body.dataset.version = String(s.version);
    document.body.dataset.year = s.year === null || s.year === undefined ? "" : String(s.year);
    byId("as-of").textContent = s.asOf ? "数据时间：" + new Date(s.asOf).toLocaleString("zh-CN") : "";
  }

  function live(on, text) {
    byId("live").className = "live " + (on ? "on" : "off");
    byId("live-text").textContent = text;
  }

  byId("year").addEventListener("change", function (e) {
    var q = new URLSearchParams(location.search);
    if (e.target.value) { q.set("year", e.target.value); } else { q.delete("year"); }
    location.search = q.toString();  // a new view: every panel, stream and link follows
  });
  document.querySelectorAll("#trend-tabs button").forEach(function (b) {
    b.addEventListener("click", function () { trendBy = b.dataset.by; renderTrends(state.trends); });
  });
  var resizing = 0;
  window.addEventListener("resize", function () {
    clearTimeout(resizing);
    resizing = setTimeout(function () { renderTrends(state.trends); }, 150);
  });

  Promise.all([fetch(D.withYear("api/totals")), fetch(D.withYear("api/latest"))]).then(function (rs) {
    if (!rs[0].ok || !rs[1].ok) { return; }
    return Promise.all([rs[0].json(), rs[1].json()]).then(function (js) {
      if (js[0].version === js[1].version) {
        apply(Object.assign({}, js[0], { latest: js[1].latest }));
      }
    });
  }).catch(function () { /* the stream brings the state as well */ });
  loadEnterprises();

  var streaming = false, ledgerOk = true;
  function showLive() {
    if (!streaming) { live(false, "连接中断，正在重连…"); }
    else if (!ledgerOk) { live(false, "台账暂时无法读取，数据可能不是最新"); }
    else { live(true, "实时更新中"); }
  }
  // The browser reconnects a stream that ended (the server ends each after a while) by itself,
  // but gives up on one refused (too many streams from this address): then try again later.
  function connect() {
    var source = new EventSource(D.withYear("events"));
    source.addEventListener("state", function (e) { apply(JSON.parse(e.data)); });
    source.addEventListener("open", function () { streaming = true; showLive(); });
    source.addEventListener("error", function () {
      streaming = false; showLive();
      if (source.readyState === EventSource.CLOSED) {
        setTimeout(connect, 20000 + Math.random() * 20000);
      }
    });
  }
  connect();
  // The stream stays open while the server cannot read the ledger: ask it how it is doing.
  setInterval(function () {
    fetch("healthz").then(function (r) { ledgerOk = r.ok; showLive(); })
      .catch(function () { ledgerOk = false; showLive(); });
  }, 10000);
})();
