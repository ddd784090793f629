// kefu simulator page: plays one shopper; replies are what kefu delivered to the fake WeChat API.
// Plain browser JavaScript, no build step, no external assets.
//
// Failure states, as a developer meets them: a message that could not be sent stays in the input
// (and its bubble is marked) with the reason in Chinese; a banner says when the simulator itself
// cannot be reached; after 人工 a note says why the bot is silent and how to get it back
// (/reset or the button); the customer picked survives a reload.
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var chat = $("chat"), input = $("input"), sendBtn = $("send"), picker = $("customer");
  var typingRow = $("typing"), typingTitle = $("typing-title"), voiceBtn = $("voice"), sendError = $("send-error");
  var state = { openid: "", botName: "客服", lastAt: 0, names: {}, seen: {}, stateTimer: null };
  var PICKED = "kefu.simulator.customer";

  function offline(down) { $("offline").hidden = !down; document.body.dataset.offline = down ? "1" : "0"; }

  // Resolves with the JSON body; rejects with an Error whose message is Chinese.
  function api(path, body) {
    var opts = body === undefined ? {} : {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body)
    };
    return fetch(path, opts).then(function (r) {
      offline(false);
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (!r.ok) {
          var msg = r.status === 502 ? (data.error || "消息没有送到 kefu：webhook 无法连接")
            : r.status === 404 ? "模拟器不认识这位顾客（刷新页面试试）"
              : "模拟器拒绝了这个请求（HTTP " + r.status + (data.error ? "：" + data.error : "") + "）";
          var err = new Error(msg);
          err.reached = true;  // the simulator answered: what was sent may be in the chat already
          throw err;
        }
        return data;
      });
    }, function () {
      offline(true);
      throw new Error("无法连接模拟器：kefu simulate 还在运行吗？");
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
      if (ev.kind === "bot" && ev.meta && ev.meta.menu) { addOptions(b, ev); }
      row.appendChild(img);
      row.appendChild(b);
      chat.appendChild(row);
      if (ev.kind === "bot") { setTyping(false); refreshState(); }
    }
    if (!typingRow.hidden) { chat.appendChild(typingRow); }
    scrollDown();
  }

  // A menu (猜你想问): the head, one button per option (a tap sends the option like WeChat does), the tail.
  function addOptions(b, ev) {
    var texts = ev.text.split("\n").filter(function (l) { return !/^\d+\. /.test(l); });  // head and tail
    b.textContent = texts[0] || "";
    var list = document.createElement("div");
    list.className = "options";
    ev.meta.menu.forEach(function (o) {
      var btn = document.createElement("button");
      btn.type = "button";
      btn.className = "option";
      btn.textContent = o.content;
      btn.addEventListener("click", function () { send({ type: "tap", id: o.id, text: o.content }); });
      list.appendChild(btn);
    });
    b.appendChild(list);
    var tail = texts.slice(1).join("\n");
    if (tail) { var t = document.createElement("div"); t.textContent = tail; b.appendChild(t); }
  }

  // Is a person (in theory) handling this customer? Then the bot is silent on purpose: say so.
  function refreshState() {
    clearTimeout(state.stateTimer);
    state.stateTimer = setTimeout(function () {
      var openid = state.openid;
      api("api/state?openid=" + encodeURIComponent(openid)).then(function (d) {
        if (openid !== state.openid) { return; }
        $("handed-off").hidden = !d.handed_off_until;
        document.body.dataset.handedOff = d.handed_off_until ? "1" : "0";
      }, function () {});
    }, 200);
  }

  function loadHistory() {
    chat.textContent = "";
    state.lastAt = 0;
    state.seen = {};
    setTyping(false);
    $("orders").hidden = true;
    $("handed-off").hidden = true;
    return api("api/history?openid=" + encodeURIComponent(state.openid)).then(function (data) {
      data.events.forEach(render);
      setTyping(data.typing);
      refreshState();
    });
  }

  function showError(message) {
    sendError.textContent = message || "";
    sendError.hidden = !message;
  }

  function markFailed() {
    var mine = chat.querySelectorAll(".row.user");
    var last = mine[mine.length - 1];
    if (last) { last.classList.add("failed"); last.title = "发送失败"; }
  }

  // Sends ``body``; resolves true when kefu took the message. On failure the error is shown and
  // ``restore`` (the typed text) goes back into the input.
  function send(body, restore) {
    body.openid = state.openid;
    sendBtn.disabled = true;
    showError("");
    return api("api/send", body).then(function (r) {
      if (r.status !== 200) {
        var refused = new Error("kefu 没有收下这条消息（webhook 返回 HTTP " + r.status + "），可以再发一次");
        refused.reached = true;
        throw refused;
      }
      refreshState();
      return true;
    }).catch(function (err) {
      if (err.reached) { markFailed(); }
      showError("发送失败：" + err.message);
      if (restore !== undefined && !input.value) { input.value = restore; }
      return false;
    }).then(function (ok) { sendBtn.disabled = false; input.focus(); return ok; });
  }

  function reset() {
    showError("");
    return api("api/reset", { openid: state.openid }).then(loadHistory).catch(function (err) {
      showError("重置失败：" + err.message);
    });
  }

  function sendInput() {
    var text = input.value.trim();
    if (!text || sendBtn.disabled) { return; }
    input.value = "";
    if (text === "/reset") { reset(); return; }
    var voice = voiceBtn.getAttribute("aria-pressed") === "true";
    send(voice ? { type: "voice", text: text } : { type: "text", text: text }, text);
  }

  function connect() {
    var es = new EventSource("api/events");
    es.onmessage = function (m) {
      var ev = JSON.parse(m.data);
      if (ev.openid === state.openid) { render(ev); }
    };
    es.onopen = function () {
      var wasDown = document.body.dataset.offline === "1";
      offline(false);
      document.body.dataset.live = "1";
      if (wasDown) { loadHistory().catch(function () {}); }  // catch up on what was missed
    };
    es.onerror = function () {
      document.body.dataset.live = "0";
      offline(true);
      if (es.readyState === EventSource.CLOSED) { setTimeout(connect, 3000); }  // else the browser retries
    };
  }

  function pick(openid) {
    state.openid = openid;
    picker.value = openid;
    showError("");
    try { window.localStorage.setItem(PICKED, openid); } catch (e) { /* private mode: not remembered */ }
    return loadHistory();
  }

  sendBtn.addEventListener("click", sendInput);
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.isComposing) { e.preventDefault(); sendInput(); }
  });
  input.addEventListener("input", function () { if (!sendError.hidden && !input.value) { showError(""); } });
  voiceBtn.addEventListener("click", function () {
    var on = voiceBtn.getAttribute("aria-pressed") !== "true";
    voiceBtn.setAttribute("aria-pressed", on ? "true" : "false");
    input.placeholder = on ? "语音（输入识别出的文字）" : "输入消息，回车发送";
  });
  picker.addEventListener("change", function () { pick(picker.value).catch(function (err) { showError(err.message); }); });
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
    }, function (err) { showError(err.message); });
  });
  $("reset").addEventListener("click", reset);

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
    var remembered = null;
    try { remembered = window.localStorage.getItem(PICKED); } catch (e) { remembered = null; }
    var known = info.customers.some(function (c) { return c.openid === remembered; });
    connect();
    return pick(known ? remembered : info.default_openid);
  }).then(function () { document.body.dataset.ready = "1"; input.focus(); }, function (err) {
    showError(err.message);
    document.body.dataset.ready = "1";
  });
})();
