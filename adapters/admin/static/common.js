// Shared helpers of the kefu console: JSON API calls (with the CSRF header), DOM building, labels.
var Kefu = (function () {
  "use strict";
  var csrf = document.querySelector('meta[name="csrf-token"]').getAttribute("content");

  function toLogin() { window.location.href = "/admin/login?next=" + encodeURIComponent("/admin/"); }

  function api(path, body) {
    var opts = { headers: { "Accept": "application/json" }, credentials: "same-origin" };
    if (body !== undefined) {
      opts.method = "POST";
      opts.headers["Content-Type"] = "application/json";
      opts.headers["X-CSRF-Token"] = csrf;
      opts.body = JSON.stringify(body);
    }
    return fetch("/admin/api/" + path, opts).then(function (r) {
      if (r.status === 401) { toLogin(); throw new Error("login required"); }
      return r.json().then(function (data) {
        if (!r.ok && !data.entry) { throw new Error(data.error || ("HTTP " + r.status)); }
        return data;
      });
    });
  }

  // el("div", {className: "x", text: "..."}, [children]) — text is always set as text, never HTML.
  function el(tag, props, children) {
    var node = document.createElement(tag);
    Object.keys(props || {}).forEach(function (k) {
      if (k === "text") { node.textContent = props[k]; }
      else if (k === "dataset") { Object.keys(props[k]).forEach(function (d) { node.dataset[d] = props[k][d]; }); }
      else { node[k] = props[k]; }
    });
    (children || []).forEach(function (c) { if (c) { node.appendChild(typeof c === "string" ? document.createTextNode(c) : c); } });
    return node;
  }

  function pad2(n) { return (n < 10 ? "0" : "") + n; }
  function fmtTime(ts, off, withDate) {
    if (ts === null || ts === undefined) { return ""; }
    var d = new Date((ts + (off || 0)) * 1000);
    var hm = pad2(d.getUTCHours()) + ":" + pad2(d.getUTCMinutes()) + ":" + pad2(d.getUTCSeconds());
    return withDate ? (pad2(d.getUTCMonth() + 1) + "-" + pad2(d.getUTCDate()) + " " + hm) : hm;
  }

  var OUTCOME_GROUP = { faq: "faq", llm: "llm", cache: "llm", confirmation: "llm", reset: "llm", unsupported: "llm",
    degraded: "degraded", retry: "degraded", handoff: "handoff", failed: "handoff", undelivered: "undelivered" };
  var OUTCOME_LABEL = { faq: "FAQ 直答", llm: "大模型", cache: "缓存答案", confirmation: "确认操作", reset: "重新开始",
    unsupported: "暂不支持", degraded: "降级", retry: "降级待重试", handoff: "转人工", failed: "处理失败",
    undelivered: "未送达", canned: "固定回复", continued: "继续", rate_limited: "限流", silenced: "人工接待中",
    ignored: "忽略" };
  var HANDOFF_REASON = { human: "顾客要求人工", complaint: "投诉", failure: "系统处理失败", manual: "后台接管",
    user_request: "顾客要求人工", dialogue: "对话中转人工" };

  function outcomeBadge(outcome) {
    var group = OUTCOME_GROUP[outcome] || "other";
    return el("span", { className: "outcome o-" + group, text: OUTCOME_LABEL[outcome] || outcome });
  }

  return { api: api, el: el, fmtTime: fmtTime, outcomeBadge: outcomeBadge, OUTCOME_LABEL: OUTCOME_LABEL,
    HANDOFF_REASON: HANDOFF_REASON, csrf: csrf };
}());
