// The console's router and glue: #/overview, #/conversations[/<platform>/<openid>],
// #/handoffs[/...], #/bad, #/knowledge, #/accounts. Live updates (live.js) redraw what is shown;
// the overview refreshes every 30 s. Every failed request ends here as a message on the page —
// never as an uncaught error.
var Console = (function () {
  "use strict";
  var PAGES = ["overview", "conversations", "handoffs", "bad", "knowledge", "accounts"];
  var current = "", kbLoaded = false, toastTimer = null;

  function error(e) {
    var t = document.getElementById("toast");
    t.textContent = (e && e.message) || "出错了，请重试";
    t.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { t.hidden = true; }, 6000);
  }

  function parse() {
    var parts = (window.location.hash || "#/conversations").replace(/^#\//, "").split("/");
    var page = PAGES.indexOf(parts[0]) >= 0 ? parts[0] : "conversations";
    if (page === "accounts" && !Kefu.can("accounts")) { page = "conversations"; }
    return { page: page, platform: parts[1] || "", user: parts[2] ? decodeURIComponent(parts[2]) : "" };
  }

  function route() {
    var r = parse(), id = r.platform && r.user ? r.platform + ":" + r.user : "";
    current = r.page;
    PAGES.forEach(function (p) { document.getElementById("page-" + p).hidden = p !== r.page; });
    document.querySelectorAll(".side a").forEach(function (a) {
      a.classList.toggle("on", a.dataset.page === r.page);
      if (a.dataset.page === r.page) { a.setAttribute("aria-current", "page"); } else { a.removeAttribute("aria-current"); }
    });
    var split = document.getElementById("page-" + r.page);
    if (split.classList.contains("split")) { split.classList.toggle("show-detail", !!id); }
    if (r.page === "overview") { Overview.load().catch(error); }
    if (r.page === "conversations") {
      Lists.loadConversations(id).catch(error);
      if (id) { Conversation.show(document.getElementById("conv-detail"), r.platform, r.user, refresh).catch(error); }
    }
    if (r.page === "handoffs") {
      Live.clearAlert();
      Lists.loadHandoffs(id).catch(error);
      if (id) { Conversation.show(document.getElementById("handoff-detail"), r.platform, r.user, refresh).catch(error); }
    }
    if (!id) { Conversation.close(); }
    if (r.page === "bad") { BadAnswers.load().catch(error); }
    if (r.page === "knowledge") {  // the questions that fell through change all day: re-read them on each visit
      (kbLoaded ? Knowledge.loadFell() : Knowledge.load()).catch(error);
      kbLoaded = true;
    }
    if (r.page === "accounts") { loadAccounts().catch(error); }
  }

  // After an action on the open conversation: redraw it and the lists.
  function refresh() {
    Conversation.reload(true).catch(error);
    Lists.loadHandoffs().catch(error);
    if (current === "conversations") { Lists.loadConversations().catch(error); }
  }

  function loadAccounts() {
    var el = Kefu.el;
    return Kefu.api("accounts").then(function (d) {
      var body = document.getElementById("account-rows");
      body.textContent = "";
      d.accounts.forEach(function (a) {
        body.appendChild(el("tr", {}, [el("td", { text: a.name }), el("td", { text: a.role === "admin" ? "管理员" : "客服" }),
          el("td", {}, [a.last_login ? Kefu.timeEl(a.last_login) : el("span", { className: "muted", text: "从未登录" })])]));
      });
      document.getElementById("accounts-file").textContent = d.users_file ? "账号文件：" + d.users_file : "只有配置文件里的管理员（[admin] users_file 未设置）";
    });
  }

  function init() {
    document.querySelectorAll("[data-needs]").forEach(function (n) { n.hidden = !Kefu.can(n.dataset.needs); });
    Overview.init();
    Knowledge.init();
    Lists.init(error);
    BadAnswers.init(error);
    window.addEventListener("hashchange", route);
    window.addEventListener("unhandledrejection", function (ev) { ev.preventDefault(); error(ev.reason); });
    setInterval(function () { if (current === "overview" && !document.hidden) { Overview.load().catch(error); } }, 30000);
    setInterval(function () { if (!document.hidden) { Lists.loadHandoffs().catch(function () {}); } }, 60000);  // belt and braces
    Live.start({
      conversation: function () { Conversation.reload(true).catch(error); },
      list: function () { if (current === "conversations") { Lists.loadConversations().catch(function () {}); } },
      handoffs: function () { Lists.loadHandoffs().catch(function () {}); },
      all: route,
      seen: function () { return current === "handoffs"; }
    });
    route();
    if (current !== "handoffs") { Lists.loadHandoffs("").catch(function () {}); }  // the badge in the menu
    document.body.dataset.ready = "1";
  }

  init();
  return { error: error };
}());
