// One conversation, turn by turn: who the shopper is, what the bot did in each turn (the internal
// details folded under 详情), the person's replies and actions, 👍/👎 on bot replies, "load
// earlier", and take over / reply (which takes over) / hand back / mark handled.
// All text arrives masked from the server and is set as text.
var Conversation = (function () {
  "use strict";
  var el = Kefu.el;
  var current = null;  // {pane, platform, user, id, onChange, earlier: [entries], total}

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

  // What staff need at a glance stays visible; the machinery (router, FAQ probe, timings, tools,
  // steps=…, references=…) is folded under 详情.
  function turnCard(e, rating) {
    var dl = e.delivery || { parts: [], errcodes: [] };
    var head = el("div", { className: "turn-head" }, [Kefu.outcomeBadge(e.outcome), Kefu.timeEl(e.at),
      e.attempt > 1 ? el("span", { text: "第 " + e.attempt + " 次尝试" }) : null]);
    var card = el("div", { className: "turn", dataset: { turn: e.id, outcome: e.outcome } }, [head,
      el("div", { className: "msg user" }, [el("span", { className: "who", text: "顾客" }), e.text || ""])]);
    var visible = el("div", { className: "chips" });
    if (e.non_answer) { visible.appendChild(el("span", { className: "chip bad", text: "⚠ " + (Kefu.NON_ANSWER[e.non_answer] || e.non_answer) })); }
    if (e.handoff) { visible.appendChild(el("span", { className: "chip", text: "转人工：" + (Kefu.HANDOFF_REASON[e.handoff] || e.handoff) })); }
    if (dl.undelivered && !(dl.errcodes || []).length) { visible.appendChild(el("span", { className: "chip bad", text: "未送达：" + Kefu.errText(null, dl.undelivered) })); }
    (dl.errcodes || []).forEach(function (c) { visible.appendChild(el("span", { className: "chip bad", text: "未送达：" + Kefu.errText(c) })); });
    if (visible.childNodes.length) { card.appendChild(visible); }

    var chips = el("div", { className: "chips" });
    if (e.think !== undefined) { chips.appendChild(el("span", { className: "chip", text: "路由：思考" + (e.think ? "开" : "关") + (e.route ? "（" + e.route + "）" : "") })); }
    var fc = faqChip(e.faq);
    if (fc) { chips.appendChild(fc); }
    if (e.llm_ms) { chips.appendChild(el("span", { className: "chip", text: "大模型 " + (e.llm_ms / 1000).toFixed(2) + " s" })); }
    if (e.turn_ms !== undefined) { chips.appendChild(el("span", { className: "chip", text: "用时 " + Math.round(e.turn_ms) + " ms" })); }
    Object.keys(e.extra || {}).forEach(function (k) { chips.appendChild(el("span", { className: "chip", text: k + "=" + e.extra[k] })); });
    if (chips.childNodes.length || (e.tools && e.tools.length)) {
      card.appendChild(el("details", { className: "internals" }, [el("summary", { text: "详情" }), chips,
        e.tools && e.tools.length ? toolsTable(e.tools) : null]));
    }
    (dl.parts || []).forEach(function (p, i) {
      card.appendChild(el("div", { className: "msg bot" }, [el("span", { className: "who", text: "机器人 · 第 " + (i + 1) + " 条 · 已送达" }), p]));
    });
    if ((dl.parts || []).length) { card.appendChild(Rating.controls(e, rating, current)); }
    return card;
  }

  function agentBubble(e) {
    var status = e.ok ? "已送达" : Kefu.errText(e.errcode, e.status);
    return el("div", { className: "msg agent" + (e.ok ? "" : " failed"), dataset: { agent: "1" } }, [
      el("span", { className: "who" }, ["人工 " + e.by + " · ", Kefu.timeEl(e.at, true), " · " + status]), e.text]);
  }

  var ACTION_TEXT = { take_over: "接管了会话", hand_back: "把会话交还给机器人" };

  function entryNode(e, ratings) {
    if (e.role === "turn") { return turnCard(e, ratings[e.id]); }
    if (e.role === "agent") { return agentBubble(e); }
    return el("div", { className: "event" }, [el("span", {}, [Kefu.timeEl(e.at, true), " " + e.by + " " +
      (ACTION_TEXT[e.action] || e.action) + (e.note ? "（" + e.note + "）" : "")])]);
  }

  function header(d, pane) {
    var h = d.handoff, q = h.queued, state = [];
    if (h.silenced_until) { state.push("机器人暂停回复至 " + Kefu.fmtTime(h.silenced_until, true)); }
    if (q) { state.push(q.taken_by ? "由 " + q.taken_by + " 接待中" : "等待人工（" + (Kefu.HANDOFF_REASON[q.reason] || q.reason) + "）"); }
    if (!state.length) { state.push("机器人接待中"); }
    var taken = !!(q && q.taken_by && h.silenced_until);
    var take = el("button", { type: "button", className: "btn primary", id: "take-over", text: "接管会话", disabled: taken });
    var back = el("button", { type: "button", className: "btn", id: "hand-back", text: "交还机器人", disabled: !(q || h.silenced_until) });
    var notify = el("input", { type: "checkbox", id: "notify", checked: true });
    var done = d.attention ? el("button", { type: "button", className: "btn", id: "mark-handled", text: "标记已处理" }) : null;
    var backLink = el("a", { className: "back", href: pane.id === "handoff-detail" ? "#/handoffs" : "#/conversations", text: "‹ 返回列表" });
    var who = d.who || {};
    var head = el("div", { className: "detail-head" }, [
      el("div", { className: "who-box" }, [backLink,
        el("div", { className: "name", id: "conv-who", text: Kefu.whoName(d.who, d.user_id), title: "openid：" + d.user_id }),
        el("div", { className: "muted small", text: (who.phone_tail ? "手机尾号 " + who.phone_tail + " · " : "") + d.platform + " · 时间为 " + d.tz_label }),
        el("div", { className: "muted small id", text: d.user_id }),
        el("div", { className: "state" + (h.silenced_until ? " silent" : ""), id: "conv-state", text: state.join(" · ") })]),
      el("div", { className: "actions" }, [take, back, el("label", { className: "notify" }, [notify, "告知顾客"]), done])
    ]);
    return { node: head, take: take, back: back, notify: notify, done: done, taken: taken };
  }

  function replyBox(d, taken) {
    var box = el("textarea", { id: "reply-text", maxLength: 600, attrs: { "aria-label": "回复内容" },
      placeholder: d.can_reply ? "以人工客服身份回复（通过客服消息接口发送）。Ctrl+Enter 发送" : "这个会话不能从后台主动发消息（被动回复模式或其他平台）" });
    var send = el("button", { type: "button", className: "btn primary", id: "reply-send", text: taken ? "发送" : "接管并发送",
      title: taken ? "" : "发送会先接管会话：机器人暂停回复，直到交还" });
    var err = el("span", { className: "err", id: "reply-error", attrs: { role: "alert" } });
    box.disabled = send.disabled = !d.can_reply;
    var hint = taken ? "" : "发送即接管：机器人会暂停回复这位顾客，直到点“交还机器人”。";
    return { node: el("div", { className: "reply-box" }, [box, el("div", { className: "row" }, [
      el("span", {}, [err, hint ? el("span", { className: "muted small", text: hint }) : null]), send])]), box: box, send: send, err: err };
  }

  function render(d, keepScroll) {
    var pane = current.pane, log = pane.querySelector("#entries"), distance = log ? pane.scrollHeight - pane.scrollTop : 0;
    var atBottom = !log || (pane.scrollHeight - pane.scrollTop - pane.clientHeight < 80);
    pane.textContent = "";
    var h = header(d, pane);
    pane.appendChild(h.node);
    var entries = current.earlier.concat(d.entries.filter(function (e) { return !current.earlierIds[e.id]; }));
    var list = el("div", { id: "entries" });
    var shown = entries.length, total = d.total;
    if (shown < total) {
      var more = el("button", { type: "button", className: "btn load-earlier", id: "load-earlier", text: "加载更早的记录（还有 " + (total - shown) + " 条）" });
      more.addEventListener("click", function () { loadEarlier(shown); });
      list.appendChild(more);
    } else if (total >= d.kept_max) {
      list.appendChild(el("p", { className: "muted small center", text: "更早的记录未保留（每位顾客保留最近 " + d.kept_max + " 条，7 天）" }));
    }
    entries.forEach(function (e) { list.appendChild(entryNode(e, d.ratings || {})); });
    if (!entries.length) { list.appendChild(el("p", { className: "empty", text: "这位顾客近 7 天没有记录。" })); }
    pane.appendChild(list);
    var r = replyBox(d, h.taken);
    pane.appendChild(r.node);
    wire(d, h, r);
    pane.dataset.loaded = d.id;
    pane.dataset.entries = String(entries.length);
    if (keepScroll && !atBottom) { pane.scrollTop = pane.scrollHeight - distance; } else { pane.scrollTop = pane.scrollHeight; }
  }

  function wire(d, h, r) {
    var base = d.platform + "/" + encodeURIComponent(d.user_id);
    function fail(button) { return function (e) { r.err.textContent = e.message; if (button) { button.disabled = false; } }; }
    function act(path, body, button) {
      button.disabled = true;
      r.err.textContent = "";
      return Kefu.api("handoffs/" + base + "/" + path, body || {}).then(function () { current.onChange(); }, fail(button));
    }
    h.take.addEventListener("click", function () { act("take-over", {}, h.take); });
    h.back.addEventListener("click", function () { act("hand-back", { notify: h.notify.checked }, h.back); });
    if (h.done) {
      h.done.addEventListener("click", function () {
        h.done.disabled = true;
        Kefu.api("conversations/" + base + "/handled", {}).then(function () { current.onChange(); }, fail(h.done));
      });
    }
    function send() {
      var text = r.box.value.trim();
      if (!text || r.send.disabled) { return; }
      r.send.disabled = true;
      r.err.textContent = "";
      Kefu.api("conversations/" + base + "/reply", { text: text }).then(function (res) {
        if (res.ok) { r.box.value = ""; } else { r.err.textContent = Kefu.errText(res.entry.errcode, res.entry.status); }
        current.onChange();
      }, fail(r.send));
    }
    r.send.addEventListener("click", send);
    r.box.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey) && !ev.isComposing) { ev.preventDefault(); send(); }
    });
  }

  function fetchPage(offset, refresh) {
    var q = [];
    if (offset) { q.push("offset=" + offset); }
    if (refresh) { q.push("refresh=1"); }
    return Kefu.api("conversations/" + current.platform + "/" + encodeURIComponent(current.user) + (q.length ? "?" + q.join("&") : ""));
  }

  function loadEarlier(offset) {
    return fetchPage(offset, true).then(function (d) {
      var fresh = d.entries.filter(function (e) { return !current.earlierIds[e.id]; });
      fresh.forEach(function (e) { current.earlierIds[e.id] = true; });
      current.earlier = fresh.concat(current.earlier);
      return reload(false);
    }).catch(function (e) { Console.error(e); });
  }

  // Open a conversation in ``pane`` (a fresh one: earlier pages are forgotten).
  function show(pane, platform, user, onChange) {
    current = { pane: pane, platform: platform, user: user, id: platform + ":" + user, onChange: onChange,
      earlier: [], earlierIds: {}, viewed: false };
    return reload(false);
  }

  // Redraw what is open (live updates keep the reader's scroll position and the reply draft).
  function reload(keepScroll) {
    if (!current) { return Promise.resolve(); }
    var draft = current.pane.querySelector("#reply-text");
    var text = draft ? draft.value : "", focused = draft && document.activeElement === draft;
    var opened = current.pane.querySelectorAll("details.internals[open]");
    var openIds = {};
    opened.forEach(function (n) { openIds[n.parentNode.dataset.turn] = true; });
    var forId = current.id, refresh = current.viewed;
    current.viewed = true;
    return fetchPage(0, refresh).then(function (d) {
      if (!current || current.id !== forId) { return; }
      Kefu.setZone(d);
      render(d, keepScroll);
      var box = current.pane.querySelector("#reply-text");
      if (box && text) { box.value = text; }
      if (box && focused) { box.focus(); }
      current.pane.querySelectorAll("details.internals").forEach(function (n) { if (openIds[n.parentNode.dataset.turn]) { n.open = true; } });
    });
  }

  function isOpen(id) { return !!current && current.id === id && document.body.contains(current.pane) && !current.pane.closest("[hidden]"); }
  function close() { current = null; }

  return { show: show, reload: reload, isOpen: isOpen, close: close };
}());
