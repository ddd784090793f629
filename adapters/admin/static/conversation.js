// Conversations and handoffs: the list on the left, one conversation turn by turn on the right,
// with take over / reply / hand back. All text arrives masked from the server and is set as text.
var Conversation = (function () {
  "use strict";
  var el = Kefu.el;

  function listItem(item, tz, active, href, line2) {
    var li = el("li", { className: active ? "on" : "", dataset: { id: item.id } }, [
      el("div", { className: "row1" }, [el("span", { className: "id", text: item.user_id }),
        el("span", { className: "muted", text: Kefu.fmtTime(item.last_at || item.since, tz, true).slice(0, 11) })]),
      el("div", { className: "row2", text: line2 })
    ]);
    li.addEventListener("click", function () { window.location.hash = href; });
    return li;
  }

  function loadList(query, activeId) {
    var ul = document.getElementById("conv-list");
    return Kefu.api("conversations?q=" + encodeURIComponent(query || "")).then(function (d) {
      ul.textContent = "";
      if (!d.conversations.length) { ul.appendChild(el("li", { className: "empty", text: query ? "没有找到匹配的会话" : "还没有会话记录" })); }
      d.conversations.forEach(function (c) {
        var label = (c.last_outcome ? (Kefu.OUTCOME_LABEL[c.last_outcome] || c.last_outcome) + " · " : "") + (c.last_text || "");
        ul.appendChild(listItem(c, d.tz_offset_s, c.id === activeId, "#/conversations/" + c.platform + "/" + c.user_id, label));
      });
    });
  }

  function loadHandoffs(activeId) {
    var ul = document.getElementById("handoff-list");
    return Kefu.api("handoffs").then(function (d) {
      ul.textContent = "";
      if (!d.handoffs.length) { ul.appendChild(el("li", { className: "empty", text: "现在没有等待人工的顾客" })); }
      d.handoffs.forEach(function (h) {
        var who = h.taken_by ? "由 " + h.taken_by + " 接待" : "等待中";
        var line = (Kefu.HANDOFF_REASON[h.reason] || h.reason) + " · " + who + (h.text ? " · " + h.text : "");
        var li = listItem(h, d.tz_offset_s, h.id === activeId, "#/handoffs/" + h.platform + "/" + h.user_id, line);
        li.dataset.taken = h.taken_by ? "1" : "0";
        ul.appendChild(li);
      });
      var waiting = d.handoffs.filter(function (h) { return !h.taken_by; }).length;
      var badge = document.getElementById("handoff-badge");
      badge.hidden = !waiting;
      badge.textContent = String(waiting);
    });
  }

  function faqChip(faq) {
    if (!faq) { return null; }
    if (faq.result === "hit") {
      return el("span", { className: "chip good", text: "FAQ 命中 " + faq.faq_id + " · 分数 " + faq.score + " · 领先 " + faq.margin });
    }
    var text = "FAQ " + (faq.result === "skipped" ? "跳过" : "未命中") + (faq.reason ? "（" + faq.reason + "）" : "");
    if (faq.faq_id) { text += " · 最接近 " + faq.faq_id + " " + faq.score; }
    return el("span", { className: "chip", text: text });
  }

  function toolsTable(tools) {
    var rows = tools.map(function (t) {
      var result = t.result ? el("details", {}, [el("summary", { text: "结果" }), el("pre", { text: t.result })]) : el("span", { className: "muted", text: "—" });
      return el("tr", {}, [el("td", { text: t.name }), el("td", { className: "code", text: t.arguments || "{}" }),
        el("td", { text: t.ok ? "✓" : "✗" }), el("td", {}, [result])]);
    });
    return el("table", { className: "tools" }, [el("thead", {}, [el("tr", {}, [el("th", { text: "工具" }),
      el("th", { text: "参数" }), el("th", { text: "成功" }), el("th", { text: "结果（已脱敏）" })])]), el("tbody", {}, rows)]);
  }

  function turnCard(e, tz) {
    var head = el("div", { className: "turn-head" }, [Kefu.outcomeBadge(e.outcome), el("span", { text: Kefu.fmtTime(e.at, tz, true) }),
      e.attempt > 1 ? el("span", { text: "第 " + e.attempt + " 次尝试" }) : null,
      e.turn_ms !== undefined ? el("span", { text: "用时 " + Math.round(e.turn_ms) + " ms" }) : null]);
    var card = el("div", { className: "turn", dataset: { turn: e.id, outcome: e.outcome } }, [head,
      el("div", { className: "msg user" }, [el("span", { className: "who", text: "顾客" }), e.text || ""])]);
    var chips = el("div", { className: "chips" });
    if (e.think !== undefined) { chips.appendChild(el("span", { className: "chip", text: "路由：思考" + (e.think ? "开" : "关") + (e.route ? "（" + e.route + "）" : "") })); }
    var fc = faqChip(e.faq);
    if (fc) { chips.appendChild(fc); }
    if (e.llm_ms) { chips.appendChild(el("span", { className: "chip", text: "大模型 " + (e.llm_ms / 1000).toFixed(2) + " s" })); }
    if (e.handoff) { chips.appendChild(el("span", { className: "chip", text: "转人工：" + (Kefu.HANDOFF_REASON[e.handoff] || e.handoff) })); }
    var dl = e.delivery || { parts: [], errcodes: [] };
    if (dl.undelivered) { chips.appendChild(el("span", { className: "chip bad", text: "未送达：" + dl.undelivered })); }
    (dl.errcodes || []).forEach(function (c) { chips.appendChild(el("span", { className: "chip bad", text: "errcode " + c })); });
    Object.keys(e.extra || {}).forEach(function (k) { chips.appendChild(el("span", { className: "chip", text: k + "=" + e.extra[k] })); });
    if (chips.childNodes.length) { card.appendChild(chips); }
    if (e.tools && e.tools.length) { card.appendChild(toolsTable(e.tools)); }
    (dl.parts || []).forEach(function (p, i) {
      card.appendChild(el("div", { className: "msg bot" }, [el("span", { className: "who", text: "机器人 · 第 " + (i + 1) + " 条 · 已送达" }), p]));
    });
    return card;
  }

  function agentBubble(e, tz) {
    var status = e.ok ? "已送达" : "发送失败 " + (e.errcode || e.status || "");
    return el("div", { className: "msg agent" + (e.ok ? "" : " failed"), dataset: { agent: "1" } }, [
      el("span", { className: "who", text: "人工 " + e.by + " · " + Kefu.fmtTime(e.at, tz) + " · " + status }), e.text]);
  }

  var ACTION_TEXT = { take_over: "接管了会话", hand_back: "把会话交还给机器人" };

  function show(pane, platform, user, onChange) {
    return Kefu.api("conversations/" + platform + "/" + encodeURIComponent(user)).then(function (d) {
      var tz = d.tz_offset_s, h = d.handoff, q = h.queued;
      pane.textContent = "";
      var state = [];
      if (h.silenced_until) { state.push("机器人暂停回复至 " + Kefu.fmtTime(h.silenced_until, tz, true)); }
      if (q) { state.push(q.taken_by ? "由 " + q.taken_by + " 接待中" : "等待人工（" + (Kefu.HANDOFF_REASON[q.reason] || q.reason) + "）"); }
      if (!state.length) { state.push("机器人接待中"); }
      var take = el("button", { type: "button", className: "btn primary", id: "take-over", text: "接管会话" });
      var back = el("button", { type: "button", className: "btn", id: "hand-back", text: "交还机器人" });
      var notify = el("input", { type: "checkbox", id: "notify", checked: true });
      take.disabled = !!(q && q.taken_by && h.silenced_until);
      back.disabled = !(q || h.silenced_until);
      pane.appendChild(el("div", { className: "detail-head" }, [
        el("div", {}, [el("div", { className: "id", text: d.user_id }), el("div", { className: "muted", text: d.platform }),
          el("div", { className: "state" + (h.silenced_until ? " silent" : ""), id: "conv-state", text: state.join(" · ") })]),
        el("div", { className: "actions" }, [take, back, el("label", { className: "notify" }, [notify, "告知顾客"])])
      ]));
      var log = el("div", { id: "entries" });
      d.entries.forEach(function (e) {
        if (e.role === "turn") { log.appendChild(turnCard(e, tz)); }
        else if (e.role === "agent") { log.appendChild(agentBubble(e, tz)); }
        else if (e.role === "event") {
          log.appendChild(el("div", { className: "event" }, [el("span", { text: Kefu.fmtTime(e.at, tz) + " " + e.by + " " +
            (ACTION_TEXT[e.action] || e.action) + (e.note ? "（" + e.note + "）" : "") })]));
        }
      });
      if (!d.entries.length) { log.appendChild(el("p", { className: "empty", text: "这位顾客近 7 天没有记录。" })); }
      pane.appendChild(log);

      var box = el("textarea", { id: "reply-text", maxLength: 600, placeholder: d.can_reply ? "以人工客服身份回复（通过客服消息接口发送）" : "被动回复模式下不能主动发送消息" });
      var send = el("button", { type: "button", className: "btn primary", id: "reply-send", text: "发送" });
      var err = el("span", { className: "err", id: "reply-error" });
      box.disabled = send.disabled = !d.can_reply;
      pane.appendChild(el("div", { className: "reply-box" }, [box, el("div", { className: "row" }, [err, send])]));

      function act(path, body, button) {
        button.disabled = true;
        err.textContent = "";
        return Kefu.api("handoffs/" + platform + "/" + encodeURIComponent(user) + "/" + path, body || {})
          .then(function () { onChange(); }, function (e) { err.textContent = e.message; button.disabled = false; });
      }
      take.addEventListener("click", function () { act("take-over", {}, take); });
      back.addEventListener("click", function () { act("hand-back", { notify: notify.checked }, back); });
      send.addEventListener("click", function () {
        var text = box.value.trim();
        if (!text) { return; }
        send.disabled = true;
        Kefu.api("conversations/" + platform + "/" + encodeURIComponent(user) + "/reply", { text: text }).then(function (r) {
          if (r.ok) { box.value = ""; } else { err.textContent = "发送失败：" + (r.entry.errcode || r.entry.status); }
          onChange();
        }, function (e) { err.textContent = e.message; send.disabled = false; });
      });
      pane.dataset.loaded = d.id;
      log.scrollIntoView({ block: "end" });
    });
  }

  return { loadList: loadList, loadHandoffs: loadHandoffs, show: show };
}());
