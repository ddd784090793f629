// kefu simulator page: plays one shopper; replies are what kefu delivered to the fake WeChat API.
// Plain browser JavaScript, no build step, no external assets.
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var chat = $("chat"), input = $("input"), sendBtn = $("send"), picker = $("customer");
  var typingRow = $("typing"), typingTitle = $("typing-title"), voiceBtn = $("voice");
  var state = { openid: "", botName: "客服", lastAt: 0, names: {}, seen: {} };

  function api(path, body) {
    var opts = body === undefined ? {} : {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body)
    };
    return fetch(path, opts).then(function (r) {
      return r.json().then(function (data) {
        if (!r.ok) { throw new Error(data.error || ("HTTP " + r.status)); }
        return data;
      });
    });
  }

  function scrollDown() { chat.scrollTop = chat.scrollHeight; }

  function setTyping(on) {
    typingRow.hidden = !on;
    typingTitle.hidden = !on;
    if (on) { chat.appendChild(typingRow); scrollDown(); }
  }

  function addTime(ev) {
    var t = Date.parse(ev.at);
    if (!state.lastAt || t - state.lastAt >= 3 * 60 * 1000) {
      var d = document.createElement("div");
      d.className = "time";
      d.textContent = ev.hhmm;
      chat.appendChild(d);
    }
    state.lastAt = t;
  }

  function render(ev) {
    if (ev.seq) {
      if (state.seen[ev.seq]) { return; }
      state.seen[ev.seq] = true;
    }
    if (ev.kind === "typing") { setTyping(ev.on); return; }
    addTime(ev);
    if (ev.kind === "system") {
      var s = document.createElement("div");
      s.className = "system";
      var span = document.createElement("span");
      span.textContent = ev.text;
      s.appendChild(span);
      chat.appendChild(s);
    } else {
      var row = document.createElement("div");
      row.className = "row " + ev.kind;
      row.title = ev.hhmm;
      var img = document.createElement("img");
      img.className = "avatar";
      img.alt = ev.kind === "bot" ? state.botName : (state.names[ev.openid] || "");
      img.src = ev.kind === "bot" ? "static/bot.svg" : "static/user.svg";
      var b = document.createElement("div");
      b.className = "bubble";
      b.textContent = ev.text;
      row.appendChild(img);
      row.appendChild(b);
      chat.appendChild(row);
      if (ev.kind === "bot") { setTyping(false); }
    }
    if (!typingRow.hidden) { chat.appendChild(typingRow); }
    scrollDown();
  }

  function loadHistory() {
    chat.textContent = "";
    state.lastAt = 0;
    state.seen = {};
    setTyping(false);
    $("orders").hidden = true;
    return api("api/history?openid=" + encodeURIComponent(state.openid)).then(function (data) {
      data.events.forEach(render);
      setTyping(data.typing);
    });
  }

  function send(body) {
    body.openid = state.openid;
    sendBtn.disabled = true;
    return api("api/send", body).catch(function (err) {
      render({ kind: "system", text: "发送失败：" + err.message, at: new Date().toISOString(), hhmm: "" });
    }).then(function () { sendBtn.disabled = false; input.focus(); });
  }

  function sendInput() {
    var text = input.value.trim();
    if (!text) { return; }
    input.value = "";
    var voice = voiceBtn.getAttribute("aria-pressed") === "true";
    send(voice ? { type: "voice", text: text } : { type: "text", text: text });
  }

  function connect() {
    var es = new EventSource("api/events");
    es.onmessage = function (m) {
      var ev = JSON.parse(m.data);
      if (ev.openid === state.openid) { render(ev); }
    };
    es.onopen = function () { document.body.dataset.live = "1"; };
  }

  sendBtn.addEventListener("click", sendInput);
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.isComposing) { e.preventDefault(); sendInput(); }
  });
  voiceBtn.addEventListener("click", function () {
    var on = voiceBtn.getAttribute("aria-pressed") !== "true";
    voiceBtn.setAttribute("aria-pressed", on ? "true" : "false");
    input.placeholder = on ? "语音（输入识别出的文字）" : "输入消息，回车发送";
  });
  picker.addEventListener("change", function () {
    state.openid = picker.value;
    loadHistory();
  });
  document.querySelector("[data-event=subscribe]").addEventListener("click", function () {
    send({ type: "event", event: "subscribe" });
  });
  $("menu-click").addEventListener("click", function () {
    var key = window.prompt("菜单 EventKey", "");
    if (key) { send({ type: "event", event: "CLICK", key: key }); }
  });
  $("orders-btn").addEventListener("click", function () {
    var box = $("orders");
    if (!box.hidden) { box.hidden = true; return; }
    api("api/orders?openid=" + encodeURIComponent(state.openid)).then(function (data) {
      box.textContent = data.orders.length ? data.orders.join("\n") : "（没有订单）";
      box.hidden = false;
    });
  });
  $("reset").addEventListener("click", function () {
    api("api/reset", { openid: state.openid }).then(loadHistory);
  });

  api("api/info").then(function (info) {
    state.botName = info.bot_name;
    $("bot-name").textContent = info.bot_name;
    document.title = info.bot_name + " · kefu 模拟器";
    $("banner").textContent = info.banner || "";
    info.customers.forEach(function (c) {
      state.names[c.openid] = c.name;
      var o = document.createElement("option");
      o.value = c.openid;
      o.textContent = c.name + (c.member_level ? "（" + c.member_level + "）" : "");
      picker.appendChild(o);
    });
    picker.value = info.default_openid;
    state.openid = info.default_openid;
    connect();
    return loadHistory();
  }).then(function () { document.body.dataset.ready = "1"; input.focus(); });
})();
