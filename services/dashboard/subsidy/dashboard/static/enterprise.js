// The enterprise view: its entitlements (status, amounts, clause) and payments, for the year
// in the URL; reached from every table of the board that names an enterprise.
(function () {
  "use strict";
  var D = window.Dash, byId = D.byId, el = D.el, cell = D.cell, fill = D.fill;
  var id = decodeURIComponent(location.pathname.split("/").pop());

  function fact(key, label, text) {
    var box = el("div");
    box.dataset.fact = key;
    box.append(el("dt", "", label), el("dd", "", text));
    return box;
  }

  function render(e) {
    document.title = e.enterpriseName + " · 企业扶持资金明细";
    byId("name").textContent = e.enterpriseName;
    byId("code").textContent = "统一社会信用代码 " + e.enterpriseId + " · " + e.districtName;
    fill(byId("facts"), [
      fact("granted", "已拨付金额（净额）", e.granted),
      fact("paidOut", "已发放", e.paidOut),
      fact("clawback", "应追回金额", e.clawback),
      fact("entitlements", "支持事项", D.count(e.entitlementCount)),
    ]);
    fill(byId("entitlements").tBodies[0], e.entitlements.map(function (x) {
      var tr = el("tr");
      tr.dataset.entitlement = x.entitlementId;
      tr.dataset.year = String(x.year);
      cell(tr, String(x.year), "label");
      cell(tr, x.occurredOn, "label");
      cell(tr, x.rule).title = x.ruleId;
      cell(tr, "").appendChild(el("span", "tag " + x.status, x.statusLabel));
      D.money(tr, x.entitled, null, "entitled");
      D.money(tr, x.granted, null, "granted");
      D.money(tr, x.clawback, null, "clawback");
      cell(tr, x.channels.join("、"));
      cell(tr, x.clause, "clause");
      return tr;
    }));
    fill(byId("payments").tBodies[0], e.payments.map(function (p) {
      var tr = el("tr");
      tr.dataset.order = p.orderId;
      cell(tr, p.orderId, "label");
      cell(tr, String(p.year), "num");
      cell(tr, p.channel, "label");
      cell(tr, p.level, "label");
      var status = cell(tr, p.stateLabel + (p.holdLabel ? "（" + p.holdLabel + "）" : ""), "label");
      status.dataset.state = p.state;
      D.money(tr, p.amount, null, "amount");
      D.money(tr, p.setOff, null);
      D.money(tr, p.net, null, "net");
      cell(tr, p.time, "label");
      return tr;
    }));
    var none = byId("payments-empty");
    none.hidden = e.payments.length > 0;
    none.textContent = e.paymentsAvailable ? "暂无拨付记录" : "暂无拨付记录（资金拨付尚未启用）";
  }

  function years(list) {
    var select = byId("year");
    fill(select, [el("option", "", "全部年度")].concat(list.map(function (y) {
      var o = el("option", "", y + "年");
      o.value = String(y);
      return o;
    })));
    select.options[0].value = "";
    select.value = D.year();
  }

  byId("back").href = D.withYear("../");
  byId("year").addEventListener("change", function (e) {
    location.search = e.target.value ? "?year=" + e.target.value : "";
  });
  fetch(D.withYear("../api/enterprise/" + encodeURIComponent(id))).then(function (r) {
    return r.json().then(function (body) {
      if (!r.ok) {
        byId("name").textContent = body.error || "无法读取";
        document.body.dataset.loaded = "error";
        return;
      }
      years(body.years);
      render(body);
      document.body.dataset.loaded = "1";
    });
  }).catch(function () {
    byId("name").textContent = "暂时无法读取台账";
    document.body.dataset.loaded = "error";
  });
})();
