// Tiny <canvas> charts for the kefu console: stacked bars and lines over time. No library, no build.
// Each canvas remembers what it shows (for the hover tooltip) and how many values it drew
// (data-points, also handy in tests).
var Charts = (function () {
  "use strict";
  var PAD = { left: 44, right: 10, top: 8, bottom: 22 };
  var GRID = "#eef0f2", AXIS = "#8f959e";

  function pad2(n) { return (n < 10 ? "0" : "") + n; }
  function timeLabel(ts, off) {
    var d = new Date((ts + (off || 0)) * 1000);
    return pad2(d.getUTCHours()) + ":" + pad2(d.getUTCMinutes());
  }
  // A y axis of at most 4 round steps (1, 2 or 5 times a power of ten) covering v.
  function scale(v) {
    if (!(v > 0)) { return { max: 1, steps: 2 }; }
    var raw = v / 4, p = Math.pow(10, Math.floor(Math.log10(raw))), n = raw / p;
    var step = (n <= 1 ? 1 : n <= 2 ? 2 : n <= 5 ? 5 : 10) * p;
    var steps = Math.max(1, Math.ceil(v / step - 1e-9));
    return { max: steps * step, steps: steps };
  }
  function tick(v) {
    if (v >= 10000) { return (v / 1000).toFixed(0) + "k"; }
    if (v >= 1000) { return (v / 1000).toFixed(1).replace(/\.0$/, "") + "k"; }
    return String(Math.round(v * 100) / 100);
  }

  function setup(canvas) {
    var dpr = window.devicePixelRatio || 1;
    var w = canvas.clientWidth || 400, h = canvas.clientHeight || 190;
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
    var ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    ctx.font = "11px -apple-system, 'PingFang SC', 'Microsoft YaHei', 'Noto Sans CJK SC', sans-serif";
    return { ctx: ctx, w: w, h: h, x0: PAD.left, y0: PAD.top, pw: w - PAD.left - PAD.right, ph: h - PAD.top - PAD.bottom };
  }

  function frame(g, sc, t, off) {
    var ctx = g.ctx, i, max = sc.max;
    ctx.strokeStyle = GRID;
    ctx.fillStyle = AXIS;
    ctx.lineWidth = 1;
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (i = 0; i <= sc.steps; i++) {
      var y = Math.round(g.y0 + g.ph - (g.ph * i) / sc.steps) + 0.5;
      ctx.beginPath(); ctx.moveTo(g.x0, y); ctx.lineTo(g.x0 + g.pw, y); ctx.stroke();
      ctx.fillText(tick((max * i) / sc.steps), g.x0 - 6, y);
    }
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    var n = t.length, every = Math.max(1, Math.ceil(n / 6));
    for (i = 0; i < n; i += every) {
      ctx.fillText(timeLabel(t[i], off), g.x0 + (g.pw * (i + 0.5)) / n, g.y0 + g.ph + 5);
    }
  }

  function remember(canvas, opts, g, points) {
    canvas._chart = { opts: opts, g: g };
    canvas.dataset.points = String(points);
    if (!canvas._hover) {
      canvas._hover = true;
      canvas.addEventListener("mousemove", function (ev) { hover(canvas, ev); });
      canvas.addEventListener("mouseleave", function () { document.getElementById("tooltip").hidden = true; });
    }
  }

  function hover(canvas, ev) {
    var c = canvas._chart, tip = document.getElementById("tooltip");
    if (!c || !tip) { return; }
    var rect = canvas.getBoundingClientRect(), x = ev.clientX - rect.left, n = c.opts.t.length;
    var i = Math.floor(((x - c.g.x0) / c.g.pw) * n);
    if (i < 0 || i >= n) { tip.hidden = true; return; }
    var fmt = c.opts.format || tick;
    var lines = [timeLabel(c.opts.t[i], c.opts.tz)];
    c.opts.series.forEach(function (s) {
      var v = s.values[i];
      if (v !== null && v !== undefined && (v !== 0 || !c.opts.stacked)) { lines.push(s.name + "  " + fmt(v)); }
    });
    tip.textContent = lines.join("\n");
    tip.hidden = false;
    tip.style.left = (ev.clientX + 12) + "px";
    tip.style.top = (ev.clientY + 12) + "px";
  }

  // opts: {t: [epoch s], tz: offset s, series: [{name, color, values}], format?}
  function bars(canvas, opts) {
    var g = setup(canvas), n = opts.t.length, max = 0, points = 0, i;
    for (i = 0; i < n; i++) {
      var sum = 0;
      opts.series.forEach(function (s) { sum += s.values[i] || 0; });
      max = Math.max(max, sum);
    }
    var sc = scale(max);
    max = sc.max;
    frame(g, sc, opts.t, opts.tz);
    var slot = g.pw / n, bw = Math.max(1, slot * 0.72);
    for (i = 0; i < n; i++) {
      var base = 0;
      opts.series.forEach(function (s) {
        var v = s.values[i] || 0;
        if (v <= 0) { return; }
        var h = Math.max(1, (v / max) * g.ph), x = g.x0 + slot * i + (slot - bw) / 2;
        g.ctx.fillStyle = s.color;
        g.ctx.fillRect(x, g.y0 + g.ph - base - h, bw, h);
        base += h;
        points += 1;
      });
    }
    opts.stacked = true;
    remember(canvas, opts, g, points);
  }

  // Lines break where a value is null; a lone point is drawn as a dot. opts.area fills below.
  function lines(canvas, opts) {
    var g = setup(canvas), n = opts.t.length, max = 0, points = 0, ctx = g.ctx;
    opts.series.forEach(function (s) {
      s.values.forEach(function (v) { if (v !== null && v > max) { max = v; } });
    });
    var sc = scale(max);
    max = sc.max;
    frame(g, sc, opts.t, opts.tz);
    function px(i) { return g.x0 + (g.pw * (i + 0.5)) / n; }
    function py(v) { return g.y0 + g.ph - (v / max) * g.ph; }
    opts.series.forEach(function (s) {
      ctx.strokeStyle = s.color;
      ctx.fillStyle = s.color;
      ctx.lineWidth = 2;
      ctx.lineJoin = "round";
      var run = [];
      function flush() {
        if (run.length === 1) {
          ctx.beginPath(); ctx.arc(px(run[0]), py(s.values[run[0]]), 3.5, 0, Math.PI * 2); ctx.fill();
        } else if (run.length > 1) {
          if (opts.area) {
            ctx.globalAlpha = 0.15;
            ctx.beginPath(); ctx.moveTo(px(run[0]), g.y0 + g.ph);
            run.forEach(function (i) { ctx.lineTo(px(i), py(s.values[i])); });
            ctx.lineTo(px(run[run.length - 1]), g.y0 + g.ph); ctx.closePath(); ctx.fill();
            ctx.globalAlpha = 1;
          }
          ctx.beginPath();
          run.forEach(function (i, k) { if (k === 0) { ctx.moveTo(px(i), py(s.values[i])); } else { ctx.lineTo(px(i), py(s.values[i])); } });
          ctx.stroke();
        }
        run = [];
      }
      for (var i = 0; i < n; i++) {
        var v = s.values[i];
        if (v === null || v === undefined) { flush(); continue; }
        run.push(i);
        points += 1;
      }
      flush();
    });
    remember(canvas, opts, g, points);
  }

  // Legend under a chart: swatch, name and a summary value (total or latest).
  function legend(el, series, summary) {
    el.textContent = "";
    series.forEach(function (s) {
      var item = document.createElement("span");
      var sw = document.createElement("i");
      sw.style.background = s.color;
      item.appendChild(sw);
      item.appendChild(document.createTextNode(s.name));
      if (summary) {
        var v = summary(s);
        if (v !== null && v !== undefined && v !== "") {
          var b = document.createElement("span");
          b.className = "v";
          b.textContent = v;
          item.appendChild(b);
        }
      }
      el.appendChild(item);
    });
  }

  return { bars: bars, lines: lines, legend: legend, timeLabel: timeLabel, tick: tick };
}());
