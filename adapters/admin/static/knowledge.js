// Knowledge page: FAQ entries with their phrasings, policy passages, a retriever playground (the
// same search as `kefu kb search`) and the questions that most often fell through to the LLM —
// each with what the fast path does with it now and, for admins, "加入 FAQ" (faq_add.js).
var Knowledge = (function () {
  "use strict";
  var el = Kefu.el, faqRows = [];
  var REASONS = { low_score: "分数不够", low_margin: "与第二名差距不够", no_match: "没有匹配", disabled: "快速通道已关闭" };

  function scorebar(score, threshold) {
    var bar = el("div", { className: "scorebar" }, [el("i"), el("b")]);
    bar.firstChild.style.width = Math.min(100, (score / 1.2) * 100) + "%";
    bar.lastChild.style.left = Math.min(100, (threshold / 1.2) * 100) + "%";
    bar.title = "分数 " + score + "，直答门槛 " + threshold;
    return bar;
  }

  function showResult(d) {
    var out = document.getElementById("kb-result"), fp = d.fast_path;
    out.textContent = "";
    var text = fp.result === "hit" ? "快速通道：直接用 " + fp.faq_id + " 回答（分数 " + fp.score + "，领先 " + fp.margin + "）"
      : fp.result === "miss" ? "快速通道：不直答，转给大模型（" + (REASONS[fp.reason] || fp.reason) + (fp.faq_id ? "，最接近 " + fp.faq_id + " 分数 " + fp.score : "") + "）"
        : "快速通道：跳过（" + (REASONS[fp.reason] || fp.reason) + "），转给大模型";
    out.appendChild(el("div", { className: "decision " + fp.result, id: "kb-decision", text: text }));
    if (!d.hits.length) { out.appendChild(el("p", { className: "empty", text: "没有检索结果" })); }
    d.hits.forEach(function (h) {
      out.appendChild(el("div", { className: "hit" }, [
        el("div", { className: "title" }, [el("span", { text: h.id + " · " + h.title }), el("span", { className: "muted", text: h.score.toFixed(3) })]),
        h.kind === "faq" ? scorebar(h.score, d.thresholds.min_score) : null,
        el("div", { className: "text", text: (h.kind === "policy" ? "[" + h.citation + "] " : "") + h.text })
      ]));
    });
  }

  // What the fast path does with a listed question now (the FAQ may have changed since it was asked).
  function verdict(q) {
    var now = q.now || {}, s = q.suggestion || {};
    if (s.action === "answered") { return "现在已由 " + s.faq_id + " 直接回答"; }
    if (now.faq_id) { return "最接近 " + now.faq_id + "（分数 " + now.score + "，" + (REASONS[now.reason] || now.reason || "") + "）"; }
    return "没有相近的 FAQ 条目";
  }

  function showFell(d) {
    var box = document.getElementById("kb-fell");
    box.textContent = "";
    document.getElementById("kb-demo").textContent = Kefu.can("knowledge_edit") && !d.editable ? d.why : "";
    if (!d.questions.length) { box.appendChild(el("p", { className: "empty", text: "近 7 天还没有转给大模型的通用问题。" })); return; }
    var max = d.questions[0].count, grid = el("div", { className: "fell" });
    d.questions.forEach(function (q) {
      var bar = el("div", { className: "bar" }, [el("i")]);
      bar.firstChild.style.width = Math.max(4, (q.count / max) * 100) + "%";
      var query = el("a", { className: "q", href: "#/knowledge", text: q.question, title: "在上方检索这个问题" });
      query.addEventListener("click", function (ev) { ev.preventDefault(); search(q.question); });
      grid.appendChild(query);
      grid.appendChild(bar);
      grid.appendChild(el("span", { className: "n", text: q.count + " 次" }));
      var add = (q.suggestion || {}).action === "answered" ? null
        : FaqAdd.button(q.question, { kind: "fell_through", key: q.key }, "", added);
      grid.appendChild(el("div", { className: "near", dataset: { key: q.key } }, [el("span", { text: verdict(q) }), add]));
    });
    box.appendChild(grid);
  }

  // After "加入 FAQ": the question leaves the list, the FAQ table shows the change.
  function added(d) {
    document.getElementById("kb-fell-status").textContent = FaqAdd.outcome(d);
    return load();
  }

  function renderFaq(filter) {
    var body = document.getElementById("faq-rows"), f = (filter || "").trim().toLowerCase();
    body.textContent = "";
    faqRows.filter(function (e) {
      return !f || (e.id + e.question + e.similar.join(" ") + e.answer + e.tags.join(" ")).toLowerCase().indexOf(f) >= 0;
    }).forEach(function (e) {
      var question = el("td", {}, [e.question,
        e.similar.length ? el("div", { className: "similar muted small", text: "相似问：" + e.similar.join(" | ") }) : null]);
      body.appendChild(el("tr", { dataset: { faqId: e.id } }, [el("td", { text: e.id }), question, el("td", { text: e.answer }),
        el("td", { className: "muted", text: e.tags.join("、") })]));
    });
  }

  function showPolicy(d) {
    var box = document.getElementById("policy"), section = null, current = null;
    box.textContent = "";
    d.passages.forEach(function (p) {
      if (p.section !== section) {
        section = p.section;
        current = el("div", { className: "policy-section" }, [el("h4", { text: p.section || "总则" })]);
        box.appendChild(current);
      }
      current.appendChild(el("p", {}, [el("span", { className: "cite", text: p.citation }), p.text]));
    });
  }

  function search(q) {
    document.getElementById("kb-query").value = q;
    var kind = document.getElementById("kb-kind").value;
    return Kefu.api("knowledge/search?q=" + encodeURIComponent(q) + (kind ? "&kind=" + kind : "")).then(showResult);
  }

  function load() {
    return Promise.all([
      Kefu.api("knowledge/faq").then(function (d) {
        faqRows = d.faq;
        renderFaq(document.getElementById("faq-filter").value);
        document.getElementById("kb-hash").textContent = "内容版本 " + d.content_hash + " · " + d.faq.length + " 条 FAQ";
      }),
      Kefu.api("knowledge/policy").then(showPolicy),
      loadFell()
    ]);
  }

  function init() {
    document.getElementById("kb-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var q = document.getElementById("kb-query").value.trim();
      if (q) { search(q); }
    });
    document.getElementById("faq-filter").addEventListener("input", function (ev) { renderFaq(ev.target.value); });
  }

  function loadFell() { return Kefu.api("knowledge/fell-through").then(showFell); }

  return { init: init, load: load, loadFell: loadFell };
}());
