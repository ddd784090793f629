// 差评与未答: bot replies staff rated 👎 and replies that were no answer (holding replies,
// "暂时无法确定", give-ups) over the last days, newest first, each with a link to its conversation.
// Each item has an actions area, filled by the functions in BadAnswers.actions ("加入 FAQ": faq_add.js).
var BadAnswers = (function () {
  "use strict";
  var el = Kefu.el;
  var KIND = { rated_down: "差评", non_answer: "未作答" };
  var actions = [];  // function(item) -> element or null, one per action offered on an item

  function card(item) {
    var href = "#/conversations/" + item.platform + "/" + encodeURIComponent(item.user_id);
    var why = item.kind === "non_answer" ? (Kefu.NON_ANSWER[item.reason] || item.reason) : (item.by + (item.note ? "：" + item.note : ""));
    var extra = actions.map(function (make) { return make(item); }).filter(Boolean);
    return el("li", { className: "bad-item", dataset: { kind: item.kind, turn: item.turn_id || "" } }, [
      el("div", { className: "row1" }, [el("span", { className: "flag" + (item.kind === "rated_down" ? " warn" : ""), text: KIND[item.kind] || item.kind }),
        Kefu.timeEl(item.at, true), el("a", { href: href, text: "打开会话", title: "openid：" + item.user_id })]),
      el("div", { className: "msg user" }, [el("span", { className: "who", text: "顾客问" }), item.question || ""]),
      el("div", { className: "msg bot" }, [el("span", { className: "who", text: "机器人答" }), item.reply || "（没有回复）"]),
      el("div", { className: "why muted small", text: why || "" }),
      extra.length ? el("div", { className: "actions" }, extra) : null
    ]);
  }

  function load() {
    var kind = document.getElementById("bad-kind").value;
    return Kefu.api("bad-answers?limit=100" + (kind ? "&kind=" + kind : "")).then(function (d) {
      Kefu.setZone(d);
      var ul = document.getElementById("bad-list");
      ul.textContent = "";
      document.getElementById("bad-total").textContent = "近 " + d.days + " 天共 " + d.total + " 条";
      if (!d.items.length) { ul.appendChild(el("li", { className: "empty", text: "近几天没有差评或未作答的回复。" })); }
      d.items.forEach(function (i) { ul.appendChild(card(i)); });
      ul.dataset.loaded = "1";
    });
  }

  // A line above the list saying what was just done (role=status: read out by screen readers).
  function say(text) { document.getElementById("bad-status").textContent = text; }

  function init(onError) {
    document.getElementById("bad-kind").addEventListener("change", function () { load().catch(onError); });
  }

  return { init: init, load: load, actions: actions, say: say };
}());
