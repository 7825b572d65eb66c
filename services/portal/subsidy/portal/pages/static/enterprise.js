// 我的政策兑现: an enterprise's entitlements with status, amount, clause and explanation;
// an appeal against a denial or a reduction; its payee account.
"use strict";

(async () => {
  const P = Portal;
  const me = P.header("我的政策兑现");
  if (!me) return;
  const labels = await P.loadLabels();
  const rules = Object.fromEntries(
    (await P.call("CatalogService", "ListRules", {}, { anonymous: true })).rules.map((r) => [r.id, r]));
  let enterprise = { id: me.enterpriseId, name: "", district: "" };
  let appealing = null;

  const $ = (id) => document.getElementById(id);
  const title = (d) => (rules[d.ruleId] ? rules[d.ruleId].title : d.ruleId);
  const appealable = (d) => d.status === "DENIED" || d.status === "PARTIALLY_PAID";

  function card(d, payments = []) {
    const reasons = (d.reasons || []).map((r) => labels.reason[r] || r).join("；");
    return `<div class="card" data-entitlement="${P.esc(d.entitlementId)}">
      <div class="top"><span class="title">${P.esc(title(d))}</span>${P.statusBadge(d.status)}</div>
      <div class="top"><span>拨付 <span class="money">${P.yuan(d.grantedFen)}</span>
        <span class="muted">/ 核定 <span class="money">${P.yuan(d.entitledFen)}</span></span></span>
        <span class="muted">${P.esc(d.year)} 年 · 第 ${P.esc(d.revision)} 次决定</span></div>
      ${payments.filter((p) => p.entitlementId === d.entitlementId).map((p) => `<div class="muted">拨付：${P.esc(p.statusZh)}
        <span class="money">${P.yuan(p.amountFen)}</span></div>`).join("")}
      ${reasons ? `<div class="muted">原因：${P.esc(reasons)}</div>` : ""}
      <div class="clause">${P.esc(d.clause)}</div>
      <div class="actions"><button type="button" class="secondary" data-explain>查看说明</button>
        ${appealable(d) ? `<button type="button" data-appeal>申请复核</button>` : ""}</div></div>`;
  }

  async function load() {
    $("list-error").textContent = "";
    let statement;
    try {
      statement = await P.call("LedgerService", "GetStatement", { enterpriseId: me.enterpriseId });
    } catch (err) {
      if (err.code === "not_found") statement = { entitlements: [], grantedFen: "0", clawbackFen: "0" };
      else { $("list-error").textContent = err.explain(); return; }
    }
    const list = statement.entitlements || [];
    if (list.length) enterprise = { id: me.enterpriseId, name: list[0].enterpriseName, district: list[0].district };
    $("account-name").value = $("account-name").value || enterprise.name;
    $("summary").innerHTML = `<h2>${P.esc(enterprise.name || me.enterpriseId)}</h2>
      <p class="muted">统一社会信用代码 ${P.esc(me.enterpriseId)} · ${P.esc(labels.district[enterprise.district] || "")}</p>
      <p>已拨付合计 <strong class="money">${P.yuan(statement.grantedFen)}</strong> · 共 ${list.length} 项资格
      ${BigInt(statement.clawbackFen || 0) > 0n ? ` · 应退回 <span class="money">${P.yuan(statement.clawbackFen)}</span>` : ""}</p>`;
    $("entitlements").innerHTML = list.length ? list.map((d) => card(d, statement.payments)).join("") : `<p class="muted">暂无记录。</p>`;
    for (const el of document.querySelectorAll("[data-entitlement]")) {
      const d = list.find((x) => x.entitlementId === el.dataset.entitlement);
      el.querySelector("[data-explain]").addEventListener("click", () => explain(d));
      const appeal = el.querySelector("[data-appeal]");
      if (appeal) appeal.addEventListener("click", () => openAppeal(d));
    }
  }

  function explanationText(x) {
    const lines = [];
    const status = (s) => labels.status[s] || s;
    lines.push("【资格判定】");
    for (const t of x.eligibilityTrace || []) lines.push(`· ${t.labelZh}：${t.value}`);
    lines.push("", "【台账校验】");
    for (const c of x.checks || []) {
      const numbers = Object.entries(c.numbers || {}).map(([k, v]) => `${k} ${v}`).join("，");
      lines.push(`· 第${c.revision}次 ${labels.check[c.check] || c.check}：${c.outcome}${numbers ? `（${numbers}）` : ""}`);
    }
    lines.push("", "【决定记录】");
    for (const h of x.history || []) {
      lines.push(`· 第${h.revision}次 ${status(h.status)}：核定 ${P.yuan(h.entitledFen)}，拨付 ${P.yuan(h.grantedFen)}` +
        `（${P.beijing(h.decidedAt)}）`);
    }
    for (const a of x.appeals || []) {
      lines.push("", "【复核申请】", `· ${P.beijing(a.filedAt)} ${a.reason || ""} ${a.status || ""}`);
    }
    return lines.join("\n");
  }

  async function explain(d) {
    $("explain-title").textContent = `说明：${title(d)}`;
    $("explain-body").textContent = "加载中…";
    $("explain-dialog").showModal();
    try {
      const x = await P.call("LedgerService", "ExplainDecision", { entitlementId: d.entitlementId });
      $("explain-body").textContent = x.narrative || explanationText(x);
    } catch (err) {
      $("explain-body").textContent = err.explain();
    }
  }

  function openAppeal(d) {
    appealing = d;
    $("appeal-target").textContent = `${title(d)} · ${labels.status[d.status] || d.status}`;
    $("appeal-error").textContent = "";
    $("appeal-dialog").showModal();
  }

  $("appeal-cancel").addEventListener("click", () => $("appeal-dialog").close());
  $("explain-close").addEventListener("click", () => $("explain-dialog").close());
  $("appeal").addEventListener("submit", async (e) => {
    e.preventDefault();
    const appealFiled = { eventRef: appealing.eventId, ruleId: appealing.ruleId,
      reason: $("appeal-reason").value.trim(), attachmentRef: $("appeal-attachment").value.trim() };
    try {
      await P.call("IngestService", "Submit", P.event(enterprise, { appealFiled }));
      $("appeal-dialog").close();
      $("list-error").textContent = "";
      document.querySelector(`[data-entitlement="${CSS.escape(appealing.entitlementId)}"] .actions`)
        .insertAdjacentHTML("beforeend", `<span class="badge warn">复核申请已提交</span>`);
    } catch (err) {
      $("appeal-error").textContent = err.explain();
    }
  });

  $("payee").addEventListener("submit", async (e) => {
    e.preventDefault();
    $("payee-error").textContent = ""; $("payee-done").textContent = "";
    const payeeAccountRegistered = { bankName: $("bank").value.trim(),
      accountNumber: $("account").value.trim(), accountName: $("account-name").value.trim() };
    try {
      await P.call("IngestService", "Submit", P.event(enterprise, { payeeAccountRegistered }));
      $("payee-done").textContent = "收款账户已提交，拨付时使用。";
    } catch (err) {
      $("payee-error").textContent = err.explain();
    }
  });

  // Every decision about the enterprise, newest first: what the notifier told it, as it happened.
  async function notices() {
    const body = document.querySelector("#notices tbody");
    try {
      const r = await P.call("LedgerService", "ListDecisions", { enterpriseId: me.enterpriseId, pageSize: 1000 });
      const latest = (r.decisions || []).slice(-20).reverse();
      body.innerHTML = latest.map((d) => `<tr><td class="id">${P.beijing(d.decidedAt)}</td><td>${P.esc(title(d))}</td>
        <td>${P.statusBadge(d.status)}</td><td class="money">${P.yuan(d.grantedFen)}</td>
        <td class="money">${P.yuan(d.cashDeltaFen)}</td></tr>`).join("") || `<tr><td colspan="5" class="muted">暂无通知。</td></tr>`;
    } catch (err) {
      body.innerHTML = `<tr><td colspan="5" class="error">${P.esc(err.explain())}</td></tr>`;
    }
  }

  await load();
  await notices();
})();
