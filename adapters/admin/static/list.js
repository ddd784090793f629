// The lists on the left: conversations (search, filters, pages with totals) and the shoppers
// waiting for a person (with the badge in the menu). Items are links: focusable, Enter opens them.
var Lists = (function () {
  "use strict";
  var el = Kefu.el, PAGE = 30;
  var state = { q: "", group: "", day: "", attention: false, offset: 0, total: 0 };
  var lastWaiting = null;

  function item(c, href, active, line2, flags) {
    var name = el("span", { className: "name", text: Kefu.whoName(c.who, c.user_id) });
    var a = el("a", { href: href, className: "conv" + (active ? " on" : ""), title: "openid：" + c.user_id,
      dataset: { id: c.id } }, [
      el("div", { className: "row1" }, [name, c.last_at || c.since ? Kefu.timeEl(c.last_at || c.since, true) : null]),
      el("div", { className: "row2" }, [line2]),
      flags.length ? el("div", { className: "flags" }, flags) : null
    ]);
    return el("li", { dataset: { id: c.id } }, [a]);
  }

  function query() {
    var p = ["limit=" + PAGE, "offset=" + state.offset];
    if (state.q) { p.push("q=" + encodeURIComponent(state.q)); }
    if (state.group) { p.push("group=" + state.group); }
    if (state.day) { p.push("day=" + state.day); }
    if (state.attention) { p.push("attention=1"); }
    return "conversations?" + p.join("&");
  }

  function pager(d) {
    var box = document.getElementById("conv-pager");
    box.textContent = "";
    var from = d.total ? d.offset + 1 : 0, to = d.offset + d.conversations.length;
    box.appendChild(el("span", { id: "conv-total", text: "共 " + d.total + " 个会话" + (d.total ? "，第 " + from + "–" + to + " 个" : "") }));
    var prev = el("button", { type: "button", className: "btn", text: "上一页", disabled: d.offset <= 0 });
    var next = el("button", { type: "button", className: "btn", text: "下一页", disabled: to >= d.total });
    prev.addEventListener("click", function () { state.offset = Math.max(0, state.offset - PAGE); loadConversations(); });
    next.addEventListener("click", function () { state.offset += PAGE; loadConversations(); });
    box.appendChild(el("span", { className: "pages" }, [prev, next]));
  }

  function loadConversations(activeId) {
    var ul = document.getElementById("conv-list");
    activeId = activeId !== undefined ? activeId : (ul.dataset.active || "");
    ul.dataset.active = activeId;
    return Kefu.api(query()).then(function (d) {
      Kefu.setZone(d);
      state.total = d.total;
      ul.textContent = "";
      if (!d.conversations.length) {
        var filtered = state.q || state.group || state.day || state.attention;
        ul.appendChild(el("li", { className: "empty", text: filtered ? "没有找到匹配的会话" : "还没有会话记录" }));
      }
      d.conversations.forEach(function (c) {
        var label = (c.last_outcome ? (Kefu.OUTCOME_LABEL[c.last_outcome] || c.last_outcome) + " · " : (c.last_role === "agent" ? "人工 · " : "")) + (c.last_text || "");
        var flags = [];
        if (c.attention) { flags.push(el("span", { className: "flag warn", text: "需处理" })); }
        if (c.handoff) { flags.push(el("span", { className: "flag", text: c.handoff.taken_by ? c.handoff.taken_by + " 接待中" : "等待人工" })); }
        ul.appendChild(item(c, "#/conversations/" + c.platform + "/" + encodeURIComponent(c.user_id), c.id === activeId, label, flags));
      });
      pager(d);
      ul.dataset.loaded = "1";
    });
  }

  function alertNewHandoff(waiting) {
    if (lastWaiting !== null && waiting > lastWaiting) { Live.alert(waiting); }
    lastWaiting = waiting;
  }

  function loadHandoffs(activeId) {
    var ul = document.getElementById("handoff-list");
    activeId = activeId !== undefined ? activeId : (ul.dataset.active || "");
    ul.dataset.active = activeId;
    return Kefu.api("handoffs").then(function (d) {
      Kefu.setZone(d);
      ul.textContent = "";
      if (!d.handoffs.length) { ul.appendChild(el("li", { className: "empty", text: "现在没有等待人工的顾客" })); }
      d.handoffs.forEach(function (h) {
        var who = h.taken_by ? "由 " + h.taken_by + " 接待" : "等待中";
        var line = (Kefu.HANDOFF_REASON[h.reason] || h.reason) + " · " + who + (h.text ? " · " + h.text : "");
        var li = item(h, "#/handoffs/" + h.platform + "/" + encodeURIComponent(h.user_id), h.id === activeId, line,
          h.taken_by ? [] : [el("span", { className: "flag warn", text: "等待人工" })]);
        li.dataset.taken = h.taken_by ? "1" : "0";
        ul.appendChild(li);
      });
      var waiting = d.handoffs.filter(function (h) { return !h.taken_by; }).length;
      var badge = document.getElementById("handoff-badge");
      badge.hidden = !waiting;
      badge.textContent = String(waiting);
      alertNewHandoff(waiting);
    });
  }

  function init(onError) {
    var search = document.getElementById("conv-search"), timer = null;
    function reload() { state.offset = 0; loadConversations().catch(onError); }
    search.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () { state.q = search.value.trim(); reload(); }, 250);
    });
    document.getElementById("conv-group").addEventListener("change", function (ev) { state.group = ev.target.value; reload(); });
    document.getElementById("conv-day").addEventListener("change", function (ev) { state.day = ev.target.value; reload(); });
    document.getElementById("conv-attention").addEventListener("change", function (ev) { state.attention = ev.target.checked; reload(); });
  }

  return { init: init, loadConversations: loadConversations, loadHandoffs: loadHandoffs, state: state };
}());
