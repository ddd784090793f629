// The console's router: #/overview, #/conversations[/<platform>/<openid>], #/handoffs[/...], #/knowledge.
// Pages refresh themselves while shown (overview every 30 s, handoffs every 10 s).
(function () {
  "use strict";
  var PAGES = ["overview", "conversations", "handoffs", "knowledge"];
  var current = "", kbLoaded = false, searchTimer = null;

  function route() {
    var parts = (window.location.hash || "#/overview").replace(/^#\//, "").split("/");
    var page = PAGES.indexOf(parts[0]) >= 0 ? parts[0] : "overview";
    var platform = parts[1] || "", user = parts[2] ? decodeURIComponent(parts[2]) : "";
    current = page;
    PAGES.forEach(function (p) { document.getElementById("page-" + p).hidden = p !== page; });
    document.querySelectorAll(".side a").forEach(function (a) { a.classList.toggle("on", a.dataset.page === page); });
    var id = platform && user ? platform + ":" + user : "";
    if (page === "overview") { Overview.load(); }
    if (page === "conversations") {
      Conversation.loadList(document.getElementById("conv-search").value, id);
      if (id) { Conversation.show(document.getElementById("conv-detail"), platform, user, function () { route(); }); }
    }
    if (page === "handoffs") {
      Conversation.loadHandoffs(id);
      if (id) { Conversation.show(document.getElementById("handoff-detail"), platform, user, function () { route(); }); }
    }
    if (page === "knowledge" && !kbLoaded) { kbLoaded = true; Knowledge.load(); }
  }

  Overview.init();
  Knowledge.init();
  document.getElementById("conv-search").addEventListener("input", function (ev) {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(function () { Conversation.loadList(ev.target.value.trim(), ""); }, 250);
  });
  window.addEventListener("hashchange", route);
  setInterval(function () { if (current === "overview" && !document.hidden) { Overview.load(); } }, 30000);
  setInterval(function () {
    if (document.hidden) { return; }
    var active = document.querySelector("#handoff-list li.on");
    Conversation.loadHandoffs(active ? active.dataset.id : "");
  }, 10000);
  route();
  if (current !== "handoffs") { Conversation.loadHandoffs(""); }  // the badge in the menu
  document.body.dataset.ready = "1";
}());
