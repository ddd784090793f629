// Shared helpers of the kefu console: JSON API calls (with the CSRF header), the "server cannot be
// reached" banner, DOM building, times in the shop's time zone, and the Chinese labels.
var Kefu = (function () {
  "use strict";
  var meta = function (name) { var m = document.querySelector('meta[name="' + name + '"]'); return m ? m.getAttribute("content") : ""; };
  var csrf = meta("csrf-token"), role = meta("kefu-role"), user = meta("kefu-user");

  function toLogin() { window.location.href = "/admin/login?next=" + encodeURIComponent("/admin/" + window.location.hash); }

  // The banner at the top: shown while the server cannot be reached, gone with the next answer.
  var offline = {};
  function banner() { return document.getElementById("offline"); }
  function setOffline(source, down) {
    if (down) { offline[source] = true; } else { delete offline[source]; }
    var b = banner();
    if (b) { b.hidden = !Object.keys(offline).length; }
    document.body.dataset.offline = Object.keys(offline).length ? "1" : "0";
  }

  // Resolves with the JSON body; rejects with an Error whose message is Chinese and meant for people.
  function api(path, body) {
    var opts = { headers: { "Accept": "application/json" }, credentials: "same-origin" };
    if (body !== undefined) {
      opts.method = "POST";
      opts.headers["Content-Type"] = "application/json";
      opts.headers["X-CSRF-Token"] = csrf;
      opts.body = JSON.stringify(body);
    }
    return fetch("/admin/api/" + path, opts).then(function (r) {
      setOffline("api", false);
      if (r.status === 401) { toLogin(); throw new Error("登录已过期，请重新登录"); }
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (!r.ok && !data.entry) {
          var err = new Error(r.status === 403 ? "没有权限（" + (data.error || "403") + "）" : (data.error || ("服务器返回 " + r.status)));
          err.status = r.status;
          throw err;
        }
        return data;
      });
    }, function () {
      setOffline("api", true);
      throw new Error("无法连接服务器，请检查网络");
    });
  }

  // el("div", {className: "x", text: "..."}, [children]) — text is always set as text, never HTML.
  function el(tag, props, children) {
    var node = document.createElement(tag);
    Object.keys(props || {}).forEach(function (k) {
      if (k === "text") { node.textContent = props[k]; }
      else if (k === "dataset") { Object.keys(props[k]).forEach(function (d) { node.dataset[d] = props[k][d]; }); }
      else if (k === "attrs") { Object.keys(props[k]).forEach(function (a) { node.setAttribute(a, props[k][a]); }); }
      else { node[k] = props[k]; }
    });
    (children || []).forEach(function (c) { if (c) { node.appendChild(typeof c === "string" ? document.createTextNode(c) : c); } });
    return node;
  }

  // Times are shown in the shop's time zone (the API sends its offset and a label like UTC+08:00).
  var zone = { offset: 8 * 3600, label: "UTC+08:00" };
  function setZone(d) { if (d && d.tz_offset_s !== undefined) { zone.offset = d.tz_offset_s; zone.label = d.tz_label || zone.label; } }
  function pad2(n) { return (n < 10 ? "0" : "") + n; }
  function parts(ts) { var d = new Date((ts + zone.offset) * 1000); return d; }
  function fmtTime(ts, short) {
    if (ts === null || ts === undefined) { return ""; }
    var d = parts(ts);
    var date = d.getUTCFullYear() + "-" + pad2(d.getUTCMonth() + 1) + "-" + pad2(d.getUTCDate());
    var hm = pad2(d.getUTCHours()) + ":" + pad2(d.getUTCMinutes());
    return short ? date.slice(5) + " " + hm : date + " " + hm + ":" + pad2(d.getUTCSeconds());
  }
  function timeEl(ts, short) {
    var d = parts(ts);
    return el("time", { text: fmtTime(ts, short), title: fmtTime(ts) + " " + zone.label,
      attrs: { datetime: new Date(ts * 1000).toISOString() } });
  }
  function today() { var d = parts(Date.now() / 1000); return d.getUTCFullYear() + "-" + pad2(d.getUTCMonth() + 1) + "-" + pad2(d.getUTCDate()); }

  var OUTCOME_GROUP = { faq: "faq", menu: "faq", llm: "llm", cache: "llm", confirmation: "llm", reset: "llm", unsupported: "llm",
    degraded: "degraded", retry: "degraded", handoff: "handoff", failed: "undelivered", undelivered: "undelivered" };
  var OUTCOME_LABEL = { faq: "FAQ 直答", menu: "猜你想问", llm: "大模型", cache: "缓存答案", confirmation: "确认操作", reset: "重新开始",
    unsupported: "暂不支持", degraded: "降级", retry: "降级待重试", handoff: "转人工", failed: "处理失败",
    undelivered: "未送达", canned: "固定回复", continued: "继续", rate_limited: "限流", silenced: "人工接待中",
    ignored: "忽略" };
  var GROUP_LABEL = { faq: "FAQ 直答", model: "大模型", degraded: "降级", handoff: "转人工", failed: "失败 / 未送达" };
  var HANDOFF_REASON = { human: "顾客要求人工", complaint: "投诉", failure: "系统处理失败", manual: "后台接管",
    user_request: "顾客要求人工", dialogue: "对话中转人工", llm_unavailable: "模型长时间不可用" };
  var NON_ANSWER = { holding: "暂未作答（稍后回复）", unsure: "没有给出答案", failed: "处理失败" };
  // WeChat 客服 API errcodes, in words a shop's staff understand.
  var ERRCODES = {
    "45015": "超过48小时，无法主动发消息：顾客48小时内没有发过消息，等顾客再发消息后才能回复",
    "45047": "对这位顾客的回复条数已达上限：顾客再发消息后才能继续回复",
    "45009": "今天的接口调用次数已用完，明天恢复",
    "45002": "消息太长，请缩短后重发",
    "48001": "公众号没有客服消息权限（未认证或未开通）",
    "40001": "access_token 无效：请检查 AppSecret，或稍后重试",
    "40014": "access_token 无效，请稍后重试",
    "42001": "access_token 已过期，请稍后重试",
    "40164": "服务器 IP 不在公众号的 IP 白名单里",
    "43004": "顾客已取消关注，无法发送",
    "-1": "微信系统繁忙，请稍后重试"
  };
  var STATUS_TEXT = { window_closed: ERRCODES["45015"], quota: ERRCODES["45047"], unauthorized: ERRCODES["48001"],
    too_long: ERRCODES["45002"], failed: "发送失败，请稍后重试", network: "网络错误，发送失败" };
  function errText(code, status) {
    if (code !== null && code !== undefined && ERRCODES[String(code)]) { return ERRCODES[String(code)] + "（" + code + "）"; }
    if (status && STATUS_TEXT[status]) { return STATUS_TEXT[status] + (code ? "（" + code + "）" : ""); }
    return "发送失败" + (code ? "（errcode " + code + "）" : (status ? "（" + status + "）" : ""));
  }

  function outcomeBadge(outcome) {
    var group = OUTCOME_GROUP[outcome] || "other";
    return el("span", { className: "outcome o-" + group, text: OUTCOME_LABEL[outcome] || outcome });
  }

  // "林** · 金卡会员" (masked by the server), or the end of the openid for strangers.
  function whoName(who, userId) {
    if (who && who.name) { return who.name + (who.level ? " · " + who.level : ""); }
    return "顾客 …" + String(userId).slice(-6);
  }

  function can(permission) { return role === "admin" || permission === "conversations"; }

  return { api: api, el: el, fmtTime: fmtTime, timeEl: timeEl, today: today, setZone: setZone, zone: zone,
    outcomeBadge: outcomeBadge, whoName: whoName, errText: errText, setOffline: setOffline, can: can,
    OUTCOME_LABEL: OUTCOME_LABEL, GROUP_LABEL: GROUP_LABEL, HANDOFF_REASON: HANDOFF_REASON, NON_ANSWER: NON_ANSWER,
    csrf: csrf, role: role, user: user };
}());
