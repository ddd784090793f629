// "加入 FAQ" (admins): a question that fell through to the model, or a reply rated 差评, becomes
// another phrasing (相似问) of an existing entry — chosen among the entries the matcher puts
// closest, each shown with its answer — or a new entry with its own answer, in one action. The
// server writes the FAQ file; the bot answers it from the FAQ right away (other processes within
// a second). Refusals come back in plain Chinese and keep the dialog open.
var FaqAdd = (function () {
  "use strict";
  var el = Kefu.el, current = null;

  function $(id) { return document.getElementById(id); }
  function mode() { return document.querySelector("input[name=faq-add-mode]:checked").value; }

  function setMode(m) {
    document.querySelector("input[name=faq-add-mode][value=" + m + "]").checked = true;
    $("faq-add-phrasing").hidden = m !== "phrasing";
    $("faq-add-entry").hidden = m !== "entry";
    $("faq-add-submit").textContent = m === "phrasing" ? "加为相似问" : "新建条目";
    $("faq-add-answer").required = m === "entry";
  }

  function candidate(c, checked, question) {
    var input = el("input", { type: "radio", name: "faq-add-entry", value: c.faq_id, checked: checked });
    var warn = c.unnamed && c.unnamed.length ? el("p", { className: "warn small",
      text: "注意：这个问题提到了 " + c.unnamed.join("、") + "，" + c.faq_id + " 没有提到。加为它的问法后，它的答案要对“" + question + "”也正确。" }) : null;
    return el("li", { dataset: { faqId: c.faq_id } }, [el("label", {}, [
      input,
      el("span", { className: "cand" }, [
        el("span", { className: "title" }, [el("b", { text: c.faq_id }), " " + c.question, el("span", { className: "muted", text: " · 相近度 " + c.score.toFixed(2) })]),
        el("span", { className: "answer", text: c.answer }),
        warn
      ])
    ])]);
  }

  function showCandidates(d, question) {
    var list = $("faq-add-candidates"), s = d.suggestion || {}, preferred = s.faq_id || "";
    list.textContent = "";
    d.candidates.forEach(function (c) { list.appendChild(candidate(c, c.faq_id === preferred, question)); });
    if (!d.candidates.length) { list.appendChild(el("li", { className: "empty", text: "没有相近的条目，请新建条目。" })); }
    var phr = document.querySelector("input[name=faq-add-mode][value=phrasing]");
    phr.disabled = !d.candidates.length;
    var note = s.action === "answered" ? "快速通道现在已经用 " + s.faq_id + " 直接回答这个问题了。"
      : d.why_not_faq ? "FAQ 快速通道不会回答这句话：" + d.why_not_faq + "。请改写成通用的问法。" : "";
    $("faq-add-note").textContent = note;
    $("faq-add-note").hidden = !note;
    $("faq-add-demo").textContent = d.editable ? "" : d.why;
    $("faq-add-demo").hidden = !!d.editable;
    setMode(s.action === "entry" || !d.candidates.length ? "entry" : "phrasing");
  }

  // Opens the dialog for `question`; `source` says what to mark handled; `hint` (a 差评 note) is
  // shown above the form. Resolves with the server's answer after an addition, or null if closed.
  function open(question, source, hint) {
    var dialog = $("faq-add");
    $("faq-add-text").value = question;
    $("faq-add-answer").value = "";
    $("faq-add-tags").value = "";
    $("faq-add-error").textContent = "";
    $("faq-add-hint").textContent = hint ? "差评备注：" + hint : "";
    $("faq-add-hint").hidden = !hint;
    $("faq-add-candidates").textContent = "";
    $("faq-add-submit").disabled = true;
    dialog.dataset.ready = "0";
    if (!dialog.open) { dialog.showModal(); }
    return new Promise(function (resolve) {
      current = { source: source, resolve: resolve };
      Kefu.api("knowledge/faq-candidates?q=" + encodeURIComponent(question)).then(function (d) {
        showCandidates(d, question);
        $("faq-add-submit").disabled = !d.editable;  // the demo FAQ: the notice above says what to do
        dialog.dataset.ready = "1";
      }, function (e) { $("faq-add-error").textContent = e.message; });
    });
  }

  function close(result) {
    var done = current;
    current = null;
    if ($("faq-add").open) { $("faq-add").close(); }
    if (done) { done.resolve(result || null); }
  }

  function submit(ev) {
    ev.preventDefault();
    if (!current) { return; }
    var text = $("faq-add-text").value.trim(), err = $("faq-add-error"), send;
    err.textContent = "";
    if (mode() === "phrasing") {
      var picked = document.querySelector("input[name=faq-add-entry]:checked");
      if (!picked) { err.textContent = "请选择一个条目，它的答案要对这个问题也正确。"; return; }
      send = Kefu.api("knowledge/faq/" + encodeURIComponent(picked.value) + "/phrasings", { text: text, source: current.source });
    } else {
      send = Kefu.api("knowledge/faq", { question: text, answer: $("faq-add-answer").value, tags: $("faq-add-tags").value,
        source: current.source });
    }
    $("faq-add-submit").disabled = true;
    send.then(close, function (e) { err.textContent = e.message; $("faq-add-submit").disabled = false; });
  }

  // What happened, in words: shown where the question was.
  function outcome(d) {
    var c = d.change, what = c.action === "phrasing" ? "加为 " + c.faq_id + " 的相似问" : "新建了条目 " + c.faq_id;
    var now = d.answers_now ? "快速通道现在直接用 " + c.faq_id + " 回答它（机器人的其他进程 1 秒内跟上）。"
      : "但快速通道还不会直接回答它（" + (d.fast_path.reason || d.fast_path.result) + "），它仍由大模型回答；可在上方检索里看原因。";
    return "已把“" + c.text + "”" + what + "。" + now + (d.handled && d.handled.error ? " " + d.handled.error : "");
  }

  // The "加入 FAQ" button for a question, or null for people who may not edit the FAQ.
  function button(question, source, hint, onDone) {
    if (!Kefu.can("knowledge_edit")) { return null; }
    var b = el("button", { type: "button", className: "btn faq-add-open", text: "加入 FAQ", title: "加为已有条目的相似问，或新建条目" });
    b.addEventListener("click", function () { open(question, source, hint).then(function (d) { if (d) { onDone(d); } }); });
    return b;
  }

  function init() {
    $("faq-add-form").addEventListener("submit", submit);
    $("faq-add-cancel").addEventListener("click", function () { close(null); });
    $("faq-add").addEventListener("close", function () { close(null); });
    document.querySelectorAll("input[name=faq-add-mode]").forEach(function (r) {
      r.addEventListener("change", function () { setMode(mode()); });
    });
  }

  // 差评与未答: the action on each item (or what was done, or why it cannot be FAQ).
  BadAnswers.actions.push(function (item) {
    if (item.fixed) {
      var f = item.fixed;
      return el("span", { className: "fixed small", text: "已加入 FAQ：" + (f.action === "phrasing" ? f.faq_id + " 的相似问" : "新条目 " + f.faq_id) + "（" + f.by + "）" });
    }
    if (!Kefu.can("knowledge_edit")) { return null; }
    if (item.why_not_faq) { return el("span", { className: "muted small", text: "不能加入 FAQ：" + item.why_not_faq }); }
    var source = { kind: "bad_answer", day: item.day, conversation: item.conversation, turn_id: item.turn_id };
    return button(item.question, source, item.kind === "rated_down" ? item.note : "", function (d) {
      BadAnswers.load().then(function () { BadAnswers.say(outcome(d)); });
    });
  });

  init();
  return { open: open, button: button, outcome: outcome };
}());
