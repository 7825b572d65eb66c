// 我的政策兑现: an enterprise's entitlements with status, amount, clause and explanation;
// an appeal against a denial or a reduction; its payee account. Words from I18n and /site.json;
// what the API says in Chinese (names, titles, clauses, a bank's reason) is data, marked .data.
"use strict";

(async () => {
  const P = Portal, t = I18n.t;
  const me = P.header(t("ent.heading"));
  if (!me) return;
  const labels = await P.loadLabels();
  const rules = Object.fromEntries(
    (await P.call("CatalogService", "ListRules", {}, { anonymous: true })).rules.map((r) => [r.id, r]));
  let enterprise = { id: me.enterpriseId, name: "", district: "" };
  let appealing = null;

  const $ = (id) => document.getElementById(id);
  const title = (d) => (rules[d.ruleId] ? rules[d.ruleId].title : d.ruleId);
  const appealable = (d) => d.status === "DENIED" || d.status === "PARTIALLY_PAID";
  const data = (text) => `<span class="data">${P.esc(text)}</span>`;

  // Where the order stands in the API's words of the page's language (one mapping, in
  // subsidy.domain.payouts.order_status). A returned order's words end with the bank's reason,
  // after the first ": ", as the bank wrote it: in English that part is data.
  function paymentWords(p) {
    if (I18n.lang === "zh") return P.esc(p.statusZh);
    // A ledger older than statusEn: its Chinese, marked as data, rather than nothing.
    if (!p.statusEn) return data(p.statusZh || "");
    const words = p.statusEn, cut = p.hold === "RETURNED" ? words.indexOf(": ") : -1;
    if (cut < 0) return P.esc(words);
    return P.esc(words.slice(0, cut + 2)) + data(words.slice(cut + 2));
  }

  function card(d, payments = []) {
    const reasons = (d.reasons || []).map((r) => labels.reason[r] || r).join(t("ent.reasonSep"));
    return `<div class="card" data-entitlement="${P.esc(d.entitlementId)}">
      <div class="top"><span class="title data">${P.esc(title(d))}</span>${P.statusBadge(d.status)}</div>
      <div class="top"><span>${t("common.paid")} <span class="money">${P.yuan(d.grantedFen)}</span>
        <span class="muted">${t("ent.ofEntitled")} <span class="money">${P.yuan(d.entitledFen)}</span></span></span>
        <span class="muted">${P.esc(t("ent.yearRevision", { year: d.year, n: d.revision }))}</span></div>
      ${payments.filter((p) => p.entitlementId === d.entitlementId).map((p) => `<div class="muted payment">${t("ent.payment")}${paymentWords(p)}
        <span class="money">${P.yuan(p.amountFen)}</span></div>`).join("")}
      ${reasons ? `<div class="muted reasons">${t("ent.reasons")}${P.esc(reasons)}</div>` : ""}
      <div class="clause data">${P.esc(d.clause)}</div>
      <div class="actions"><button type="button" class="secondary" data-explain>${t("ent.explain")}</button>
        ${appealable(d) ? `<button type="button" data-appeal>${t("ent.appeal")}</button>` : ""}</div></div>`;
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
    // The name and district the enterprise is registered under (what its sources said): its
    // events and its payee account carry them, and the ledger takes an account in no other name.
    enterprise = { id: me.enterpriseId, name: statement.registeredName || "",
      district: statement.registeredDistrict || "" };
    $("account-name").value = $("account-name").value || enterprise.name;
    $("summary").innerHTML = `<h2 class="data">${P.esc(enterprise.name || me.enterpriseId)}</h2>
      <p class="muted">${t("ent.code")} ${P.esc(me.enterpriseId)} · ${P.esc(labels.district[enterprise.district] || "")}</p>
      <p>${t("ent.total")} <strong class="money">${P.yuan(statement.grantedFen)}</strong> · ${t("ent.count", { n: list.length })}
      ${BigInt(statement.clawbackFen || 0) > 0n ? ` · ${t("ent.owed")} <span class="money">${P.yuan(statement.clawbackFen)}</span>` : ""}</p>`;
    $("entitlements").innerHTML = list.length ? list.map((d) => card(d, statement.payments)).join("") : `<p class="muted">${t("ent.none")}</p>`;
    for (const el of document.querySelectorAll("[data-entitlement]")) {
      const d = list.find((x) => x.entitlementId === el.dataset.entitlement);
      el.querySelector("[data-explain]").addEventListener("click", () => explain(d));
      const appeal = el.querySelector("[data-appeal]");
      if (appeal) appeal.addEventListener("click", () => openAppeal(d));
    }
  }

  // The explanation as HTML lines: the headings and labels in the page's language, what
  // eligibility found and an appeal's grounds as data.
  function explanationHtml(x) {
    const zh = I18n.lang === "zh", sep = t("explain.sep"), rev = (n) => P.esc(t("common.revision", { n }));
    const [open, close, comma] = zh ? ["（", "）", "，"] : [" (", ")", ", "];
    const lines = [t("explain.trace")];
    for (const s of x.eligibilityTrace || []) lines.push(`· ${P.esc(zh ? s.labelZh : s.labelEn || s.labelZh)}${sep}${data(s.value)}`);
    lines.push("", t("explain.checks"));
    for (const c of x.checks || []) {
      const numbers = Object.entries(c.numbers || {}).map(([k, v]) => `${k} ${v}`).join(comma);
      const outcome = labels.reason[c.outcome] || c.outcome;
      lines.push(`· ${rev(c.revision)} ${P.esc(labels.check[c.check] || c.check)}${sep}${P.esc(outcome)}` +
        (numbers ? P.esc(`${open}${numbers}${close}`) : ""));
    }
    lines.push("", t("explain.history"));
    for (const h of x.history || []) {
      const amounts = t("explain.amounts", { entitled: P.yuan(h.entitledFen), paid: P.yuan(h.grantedFen) });
      lines.push(`· ${rev(h.revision)} ${P.esc(labels.status[h.status] || h.status)}${sep}${P.esc(amounts)}` +
        P.esc(`${open}${P.beijing(h.decidedTime || h.decidedAt)}${close}`));
    }
    if ((x.appeals || []).length) lines.push("", t("explain.appeals"));
    for (const a of x.appeals || []) {
      const state = !a.decision ? "explain.open" : a.decision.upheld ? "explain.upheld" : "explain.dismissed";
      lines.push(`· ${P.esc(a.filedOn || "")} ${data(a.reason || "")} ${t(state)}`);
    }
    return lines.join("\n");
  }

  async function explain(d) {
    $("explain-title").innerHTML = `${P.esc(t("ent.explainOf"))}${data(title(d))}`;
    $("explain-body").textContent = t("common.loading");
    $("explain-dialog").showModal();
    try {
      const x = await P.call("LedgerService", "ExplainDecision", { entitlementId: d.entitlementId });
      $("explain-body").innerHTML = explanationHtml(x);
    } catch (err) {
      $("explain-body").textContent = err.explain();
    }
  }

  function openAppeal(d) {
    appealing = d;
    $("appeal-target").innerHTML = `${data(title(d))} · ${P.esc(labels.status[d.status] || d.status)}`;
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
        .insertAdjacentHTML("beforeend", `<span class="badge warn">${t("ent.appealSent")}</span>`);
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
      $("payee-done").textContent = t("ent.registered");
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
      body.innerHTML = latest.map((d) => `<tr><td class="id">${P.beijing(d.decidedTime || d.decidedAt)}</td><td class="data">${P.esc(title(d))}</td>
        <td>${P.statusBadge(d.status)}</td><td class="money">${P.yuan(d.grantedFen)}</td>
        <td class="money">${P.yuan(d.cashDeltaFen)}</td></tr>`).join("") || `<tr><td colspan="5" class="muted">${t("ent.noNotices")}</td></tr>`;
    } catch (err) {
      body.innerHTML = `<tr><td colspan="5" class="error">${P.esc(err.explain())}</td></tr>`;
    }
  }

  await load();
  await notices();
})();
