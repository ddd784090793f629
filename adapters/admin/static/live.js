// Live updates: one EventSource on /admin/api/live. Each event names what changed (kind + the
// conversation); the open conversation redraws at once, the list and the handoff badge follow
// (at most every 1.5 s when busy). A new shopper waiting for a person changes the title and,
// if switched on, plays a short tone (WebAudio: no sound file to load). When the stream drops,
// the banner says so and the browser reconnects by itself, resuming where it was.
var Live = (function () {
  "use strict";
  var handlers = null, source = null, timers = {}, baseTitle = document.title, audio = null, lastId = "";
  var SOUND_KEY = "kefu.console.sound";

  function debounce(name, ms, fn) {
    if (timers[name]) { return; }
    timers[name] = setTimeout(function () { timers[name] = null; fn(); }, ms);
  }

  function soundOn() { return window.localStorage.getItem(SOUND_KEY) !== "off"; }

  function beep() {
    if (!soundOn()) { return; }
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      if (audio.state === "suspended") { audio.resume(); }
      var osc = audio.createOscillator(), gain = audio.createGain();
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.15, audio.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.35);
      osc.connect(gain).connect(audio.destination);
      osc.start();
      osc.stop(audio.currentTime + 0.35);
    } catch (e) { /* no audio device, or the browser has not allowed sound yet: the title still changes */ }
  }

  // A new shopper is waiting for a person.
  function alert(waiting) {
    document.title = "(" + waiting + ") 新的人工请求 · " + baseTitle;
    document.body.dataset.alert = String(waiting);
    beep();
  }

  function clearAlert() {
    if (document.body.dataset.alert) {
      document.title = baseTitle;
      delete document.body.dataset.alert;
    }
  }

  function onEvent(m) {
    var ev;
    try { ev = JSON.parse(m.data); } catch (e) { return; }
    if (m.lastEventId) { lastId = m.lastEventId; }
    document.body.dataset.liveSeq = String((parseInt(document.body.dataset.liveSeq || "0", 10) || 0) + 1);
    if (ev.kind === "handoff" || ev.kind === "attention") { debounce("handoffs", 300, handlers.handoffs); }
    if (Conversation.isOpen(ev.id)) { debounce("open", 150, handlers.conversation); }
    debounce("list", 1500, handlers.list);
  }

  function start(h) {
    handlers = h;
    var toggle = document.getElementById("sound-toggle");
    function showToggle() {
      toggle.textContent = soundOn() ? "提醒声音：开" : "提醒声音：关";
      toggle.setAttribute("aria-pressed", soundOn() ? "true" : "false");
    }
    toggle.addEventListener("click", function () {
      window.localStorage.setItem(SOUND_KEY, soundOn() ? "off" : "on");
      showToggle();
      if (soundOn()) { beep(); }  // a click is the gesture browsers want before playing sound
    });
    showToggle();
    document.addEventListener("visibilitychange", function () { if (!document.hidden && handlers.seen()) { clearAlert(); } });
    connect();
  }

  function connect() {
    source = new EventSource("/admin/api/live" + (lastId ? "?since=" + encodeURIComponent(lastId) : ""));
    source.onmessage = onEvent;
    source.onopen = function () {
      var wasDown = document.body.dataset.offline === "1";
      Kefu.setOffline("live", false);
      document.body.dataset.live = "1";
      if (wasDown) { handlers.all(); }  // catch up on anything the resumed stream cannot tell
    };
    source.onerror = function () {
      document.body.dataset.live = "0";
      Kefu.setOffline("live", true);
      // A dropped connection is retried by the browser itself. An answer that is not a stream
      // (a proxy's 502, or 401 after logging out) closes it for good: ask the API (a 401 there
      // goes to the login page) and open a new stream a little later.
      if (source.readyState === EventSource.CLOSED) {
        Kefu.api("handoffs").catch(function () {});
        setTimeout(connect, 3000);
      }
    };
  }

  return { start: start, alert: alert, clearAlert: clearAlert };
}());
