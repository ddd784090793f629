// 好评 / 差评 (👍 / 👎) on a bot reply, with a note for the 差评 (what was wrong, what the answer
// should be). A 差评 puts the reply on the 差评与未答 page. Icons are local SVG files: no emoji font needed.
var Rating = (function () {
  "use strict";
  var el = Kefu.el;

  function post(conv, turnId, rating, note) {
    return Kefu.api("conversations/" + conv.platform + "/" + encodeURIComponent(conv.user) + "/turns/" +
      encodeURIComponent(turnId) + "/rating", { rating: rating, note: note || "" });
  }

  function icon(which) { return el("img", { src: "/admin/static/thumb-" + which + ".svg", alt: "", width: 14, height: 14 }); }

  function controls(e, rating, conv) {
    var mine = rating ? rating.rating : null;
    var up = el("button", { type: "button", className: "rate up" + (mine === "up" ? " on" : ""), title: "回答得好",
      attrs: { "aria-pressed": mine === "up" ? "true" : "false" } }, [icon("up"), "好评"]);
    var down = el("button", { type: "button", className: "rate down" + (mine === "down" ? " on" : ""), title: "回答有问题",
      attrs: { "aria-pressed": mine === "down" ? "true" : "false" } }, [icon("down"), "差评"]);
    var err = el("span", { className: "err small", attrs: { role: "alert" } });
    var box = el("div", { className: "rating", dataset: { rating: mine || "" } }, [up, down]);
    if (rating) {
      box.appendChild(el("span", { className: "muted small", text: rating.by + (rating.note ? "：" + rating.note : "") }));
    }
    box.appendChild(err);
    function done() { return Conversation.reload(true); }
    function fail(ex) { err.textContent = ex.message; }
    up.addEventListener("click", function () { post(conv, e.id, mine === "up" ? null : "up").then(done, fail); });
    down.addEventListener("click", function () {
      if (mine === "down") { post(conv, e.id, null).then(done, fail); return; }
      if (box.querySelector("form")) { return; }
      var note = el("input", { type: "text", maxLength: 300, className: "note", placeholder: "哪里不对？正确的答案是什么（可不填）",
        attrs: { "aria-label": "差评备注" } });
      var save = el("button", { type: "submit", className: "btn primary", text: "提交差评" });
      var cancel = el("button", { type: "button", className: "btn", text: "取消" });
      var form = el("form", { className: "rate-note" }, [note, save, cancel]);
      form.addEventListener("submit", function (ev) { ev.preventDefault(); save.disabled = true; post(conv, e.id, "down", note.value).then(done, fail); });
      cancel.addEventListener("click", function () { form.remove(); });
      box.appendChild(form);
      note.focus();
    });
    return box;
  }

  return { controls: controls };
}());
