// Overview page: the charts of the last hours, from /admin/api/overview (kefu's own Redis counters).
var Overview = (function () {
  "use strict";
  var el = Kefu.el, minutes = 180, last = null;
  var ACKS = [["accepted", "已接收", "#07c160"], ["duplicate", "重复推送", "#8fd3a8"],
    ["rejected", "已拒绝", "#f5a623"], ["unavailable", "不可用 503", "#e64340"]];
  var TURNS = [["faq", "FAQ 直答", "#07c160"], ["llm", "大模型", "#2f7bf6"], ["degraded", "降级", "#f5a623"],
    ["handoff", "转人工", "#9b59b6"], ["undelivered", "未送达", "#e64340"], ["other", "其他", "#b0b7c3"]];
  var ERR_COLORS = ["#e64340", "#f5a623", "#9b59b6", "#ff7a45", "#c41d7f", "#8c6d1f", "#595959"];
  var ERR_NAMES = { "45015": "45015 超出48小时", "45047": "45047 条数超限", "45009": "45009 日配额",
    "48001": "48001 无权限", "45002": "45002 过长", "40001": "40001 token", "-1": "-1 系统繁忙" };

  function sum(values) { return values.reduce(function (a, v) { return a + (v || 0); }, 0); }
  function perMinTotal(values, step) { return Math.round(sum(values) * step); }

  function kpi(value, label, warn) {
    return el("div", { className: "kpi" + (warn ? " warn" : "") }, [el("b", { text: value }), el("span", { text: label })]);
  }
  function ms(v) { return v === null || v === undefined ? "—" : (v >= 1000 ? (v / 1000).toFixed(1) + " s" : Math.round(v) + " ms"); }

  function draw(d) {
    var step = d.step_s / 60, tz = d.tz_offset_s, t = d.t;
    var kpis = document.getElementById("kpis");
    kpis.textContent = "";
    var undelivered = Object.keys(d.totals.deliveries).filter(function (k) { return k !== "0"; })
      .reduce(function (a, k) { return a + d.totals.deliveries[k]; }, 0);
    kpis.appendChild(kpi(String(d.totals.turns), "对话轮次"));
    kpis.appendChild(kpi(String(d.totals.acks), "收到推送"));
    kpis.appendChild(kpi(ms(d.totals.ack_p95_ms), "接收应答 p95", d.totals.ack_p95_ms > 1000));
    kpis.appendChild(kpi(ms(d.totals.llm_p95_ms), "大模型耗时 p95"));
    kpis.appendChild(kpi(String(undelivered), "发送失败", undelivered > 0));
    kpis.appendChild(kpi(d.live.queue === null ? "?" : String(d.live.queue), "当前队列", d.live.queue > 50));
    kpis.appendChild(kpi(String(d.live.handoffs_waiting), "等待人工", d.live.handoffs_waiting > 0));

    var acks = ACKS.map(function (a) { return { name: a[1], color: a[2], values: d.acks[a[0]] }; });
    Charts.bars(document.getElementById("chart-acks"), { t: t, tz: tz, series: acks });
    Charts.legend(document.getElementById("legend-acks"), acks, function (s) { return perMinTotal(s.values, step); });

    var ackLat = [{ name: "p50", color: "#2f7bf6", values: d.ack_p50_ms }, { name: "p95", color: "#e64340", values: d.ack_p95_ms }];
    Charts.lines(document.getElementById("chart-ack-latency"), { t: t, tz: tz, series: ackLat, format: ms });
    Charts.legend(document.getElementById("legend-ack-latency"), ackLat);

    var turns = TURNS.map(function (a) { return { name: a[1], color: a[2], values: d.turns[a[0]] }; });
    Charts.bars(document.getElementById("chart-turns"), { t: t, tz: tz, series: turns });
    Charts.legend(document.getElementById("legend-turns"), turns, function (s) { return perMinTotal(s.values, step); });

    function secs(values) { return values.map(function (v) { return v === null ? null : v / 1000; }); }
    var llm = [{ name: "p50", color: "#2f7bf6", values: secs(d.llm_p50_ms) }, { name: "p95", color: "#e64340", values: secs(d.llm_p95_ms) }];
    Charts.lines(document.getElementById("chart-llm"), { t: t, tz: tz, series: llm, format: function (v) { return v.toFixed(1) + " s"; } });
    Charts.legend(document.getElementById("legend-llm"), llm);

    var k = 0;
    var deliveries = Object.keys(d.deliveries).map(function (code) {
      var color = code === "0" ? "#07c160" : ERR_COLORS[k++ % ERR_COLORS.length];
      return { name: code === "0" ? "0 成功" : (ERR_NAMES[code] || code), color: color, values: d.deliveries[code] };
    });
    if (!deliveries.length) { deliveries = [{ name: "0 成功", color: "#07c160", values: t.map(function () { return 0; }) }]; }
    Charts.bars(document.getElementById("chart-deliveries"), { t: t, tz: tz, series: deliveries });
    Charts.legend(document.getElementById("legend-deliveries"), deliveries, function (s) { return perMinTotal(s.values, step); });

    var queue = [{ name: "积压（等待 + 处理中）", color: "#2f7bf6", values: d.queue_depth }];
    Charts.lines(document.getElementById("chart-queue"), { t: t, tz: tz, series: queue, area: true });
    Charts.legend(document.getElementById("legend-queue"), queue, function () { return d.live.queue === null ? "" : "当前 " + d.live.queue; });
  }

  function load() {
    return Kefu.api("overview?minutes=" + minutes).then(function (d) {
      last = d;
      draw(d);
      document.body.dataset.overview = "1";
    });
  }

  function init() {
    document.querySelectorAll(".range button").forEach(function (b) {
      b.addEventListener("click", function () {
        minutes = parseInt(b.dataset.minutes, 10);
        document.querySelectorAll(".range button").forEach(function (o) { o.classList.toggle("on", o === b); });
        load();
      });
    });
    window.addEventListener("resize", function () { if (last && !document.getElementById("page-overview").hidden) { draw(last); } });
  }

  return { init: init, load: load };
}());
