// The pages' words in Chinese (first) and English: the language asked for (?lang=, else the
// tab's choice, else Chinese), the dictionary, and filling elements marked data-i18n.
"use strict";

const I18n = (() => {
  const KEY = "subsidy.lang", LANGS = ["zh", "en"];

  // key: [Chinese, English]. {name} is filled from the arguments of t().
  const WORDS = {
    "site.name": ["具身智能机器人产业政策 · 免申即享", "Embodied AI Robotics Industry Policy · Support without applying"],
    "site.city": ["苏州市", "Suzhou"],
    "common.loading": ["加载中…", "Loading…"],
    "common.cancel": ["取消", "Cancel"],
    "common.close": ["关闭", "Close"],
    "common.submit": ["提交", "Submit"],
    "common.signOut": ["退出", "Sign out"],
    "common.item": ["事项", "Item"],
    "common.paid": ["拨付", "Paid"],
    "common.entitled": ["核定", "Entitled"],
    "common.status": ["状态", "Status"],
    "common.revision": ["第{n}次", "revision {n}"],
    "error.failed": ["请求失败", "Request failed"],
    "error.unauthenticated": ["登录已失效，请重新登录", "Your session has ended; please sign in again"],
    "error.permission_denied": ["无权进行此操作", "You may not do this"],
    "error.invalid_argument": ["填写有误", "Something is filled in wrongly"],
    "error.not_found": ["未找到", "Not found"],
    "error.unavailable": ["服务暂不可用，请稍后再试", "The service is unavailable; please try again later"],
    "error.line": ["{what}（{code}）：{message}", "{what} ({code}): {message}"],
    "login.title": ["登录 · 具身智能机器人产业政策 免申即享", "Sign in · Embodied AI Robotics Industry Policy"],
    "login.heading": ["登录 Sign in", "Sign in"],
    "login.hint": ["请输入管理员发给您的凭证。企业进入“我的政策兑现”，审核人员进入“审核工作台”。",
      "Enter the credential an administrator gave you. Enterprises go on to “My policy support”, bureau staff to the “Review workbench”."],
    "login.credential": ["凭证 Credential", "Credential"],
    "login.submit": ["登录", "Sign in"],
    "login.api": ["接口 API", "API"],
    "login.apiBefore": ["HTTP/JSON 接口说明见", "The HTTP/JSON API is described in"],
    "login.apiAfter": ["（OpenAPI 3.1）。", " (OpenAPI 3.1)."],
    "ent.title": ["我的政策兑现 · 具身智能机器人产业政策", "My policy support · Embodied AI Robotics Industry Policy"],
    "ent.heading": ["我的政策兑现", "My policy support"],
    "ent.entitlements": ["我的资格 Entitlements", "Entitlements"],
    "ent.notices": ["通知 Notices", "Notices"],
    "ent.noticesHint": ["每一次决定及其变化（最近 20 条），与通知短信、邮件一致。",
      "Every decision and what it changed (the latest 20), as the text messages and e-mails told it."],
    "ent.time": ["时间", "Time (Beijing time)"],
    "ent.decision": ["决定", "Decision"],
    "ent.change": ["本次变动", "Change"],
    "ent.payee": ["收款账户 Payee account", "Payee account"],
    "ent.payeeHint": ["资金拨付到此账户；户名须与企业名称一致。", "Funds are paid into this account; its name must be the enterprise's name."],
    "ent.bank": ["开户银行", "Bank"],
    "ent.account": ["银行账号", "Account number"],
    "ent.accountName": ["户名", "Account name"],
    "ent.register": ["登记账户", "Register the account"],
    "ent.registered": ["收款账户已提交，拨付时使用。", "The payee account is submitted; payments will go to it."],
    "ent.appeal": ["申请复核", "Appeal"],
    "ent.appealHeading": ["申请复核 Appeal", "Appeal"],
    "ent.appealReason": ["复核理由", "Grounds for the appeal"],
    "ent.attachment": ["附件编号（可选）", "Attachment reference (optional)"],
    "ent.attachmentExample": ["例如 材料编号 FILE-2026-001", "e.g. FILE-2026-001"],
    "ent.appealSend": ["提交复核申请", "Submit the appeal"],
    "ent.appealSent": ["复核申请已提交", "Appeal submitted"],
    "ent.explain": ["查看说明", "Explanation"],
    "ent.explainTitle": ["说明", "Explanation"],
    "ent.explainOf": ["说明：", "Explanation: "],
    "ent.ofEntitled": ["/ 核定", "/ entitled"],
    "ent.yearRevision": ["{year} 年 · 第 {n} 次决定", "{year} · decision {n}"],
    "ent.payment": ["拨付：", "Payment: "],
    "ent.reasons": ["原因：", "Reasons: "],
    "ent.reasonSep": ["；", "; "],
    "ent.code": ["统一社会信用代码", "Unified social credit code"],
    "ent.total": ["已拨付合计", "Paid in total"],
    "ent.count": ["共 {n} 项资格", "{n} entitlements"],
    "ent.owed": ["应退回", "Owed back"],
    "ent.none": ["暂无记录。", "Nothing yet."],
    "ent.noNotices": ["暂无通知。", "No notices yet."],
    "explain.trace": ["【资格判定】", "[Eligibility]"],
    "explain.checks": ["【台账校验】", "[Ledger checks]"],
    "explain.history": ["【决定记录】", "[Decisions]"],
    "explain.appeals": ["【复核申请】", "[Appeals]"],
    "explain.sep": ["：", ": "],
    "explain.amounts": ["核定 {entitled}，拨付 {paid}", "entitled {entitled}, paid {paid}"],
    "explain.open": ["办理中", "open"],
    "explain.upheld": ["复核成立", "upheld"],
    "explain.dismissed": ["维持原决定", "dismissed"],
    "wb.title": ["审核工作台 · 具身智能机器人产业政策", "Review workbench · Embodied AI Robotics Industry Policy"],
    "wb.heading": ["审核工作台", "Review workbench"],
    "wb.todo": ["待办", "To do"],
    "wb.unit": ["责任单位", "Responsible unit"],
    "wb.overdueOnly": ["只看超期", "Overdue only"],
    "wb.enterprise": ["企业", "Enterprise"],
    "wb.amount": ["金额", "Amount"],
    "wb.entered": ["进入时间", "Entered (Beijing time)"],
    "wb.due": ["办理期限", "Due (Beijing time)"],
    "wb.action": ["操作", "Action"],
    "wb.more": ["更多", "More"],
    "wb.search": ["查询企业 Search", "Search enterprises"],
    "wb.query": ["统一社会信用代码或企业名称", "Unified social credit code or name"],
    "wb.find": ["查询", "Search"],
    "wb.decide": ["办理", "Decide"],
    "wb.approvedAmount": ["批准金额（元）", "Approved amount (yuan)"],
    "wb.reason": ["理由", "Reason"],
    "wb.amountFormat": ["金额格式：元，最多两位小数", "Amount: yuan, at most two decimals"],
    "wb.REVIEW": ["待审核", "To review"],
    "wb.APPEALS": ["复核申请", "Appeals"],
    "wb.REFERRED": ["待转办", "To refer"],
    "wb.OBJECTIONS": ["公示异议", "Objections"],
    "wb.RETURNED_PAYMENTS": ["银行退回", "Returned payments"],
    "wb.overdueN": ["超期 {n}", "{n} overdue"],
    "wb.overdue": ["已超期", "Overdue"],
    "wb.days": ["{n} 个工作日", "{n} working days"],
    "wb.second": ["待第二人复核（首次：{first}）", "Awaiting a second reviewer (first: {first})"],
    "wb.nothing": ["暂无待办。", "Nothing to do."],
    "wb.submitted": ["已提交", "Submitted"],
    "wb.approve": ["批准", "Approve"],
    "wb.reject": ["驳回", "Reject"],
    "wb.uphold": ["复核成立", "Uphold"],
    "wb.dismiss": ["维持原决定", "Dismiss"],
    "wb.rule": ["规则", "Rule"],
    "wb.year": ["年度", "Year"],
    "wb.paidSoFar": ["已拨付", "paid"],
    "wb.open": ["待办 {n}", "{n} open"],
    "wb.notFound": ["未找到。", "Nothing found."],
  };

  const asked = new URLSearchParams(location.search).get("lang");
  let lang = LANGS.includes(asked) ? asked : sessionStorage.getItem(KEY);
  if (!LANGS.includes(lang)) lang = "zh";
  sessionStorage.setItem(KEY, lang);
  // The URL says the language too, so a link copied from an English page opens in English.
  if (lang !== "zh" && asked !== lang) {
    const url = new URL(location.href);
    url.searchParams.set("lang", lang);
    history.replaceState(null, "", url);
  }
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";

  function t(key, vars = {}) {
    const pair = WORDS[key];
    const text = pair ? pair[LANGS.indexOf(lang)] : key;
    return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
  }

  // A path of the portal in the current language (Chinese needs no parameter).
  function href(path) {
    return lang === "zh" ? path : `${path}?lang=${lang}`;
  }

  function switcher() {
    const link = (code, name, tag) => `<a href="?lang=${code}" lang="${tag}" data-lang="${code}"` +
      `${code === lang ? ' aria-current="true"' : ""}>${name}</a>`;
    return `<nav class="lang">${link("zh", "中文", "zh-CN")} | ${link("en", "English", "en")}</nav>`;
  }

  function apply(root = document) {
    for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
    for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  }

  apply();
  return { lang, t, href, switcher, apply, KEY };
})();
