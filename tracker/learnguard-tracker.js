/* LearnGuard browser tracker: contract events from an HTML5 <video> (and video.js).
 * No dependencies. Posts batches to the PLATFORM's relay (the browser never holds a
 * LearnGuard key); the relay sets who the learner is and stamps received_at.
 *
 *   var t = LearnGuardTracker({relay: "/lg", video: el, videoId: "v1", courseId: "c1",
 *                              sessionId: "s-…", onChallenge: function (c) { return Promise.resolve(0); }});
 *
 * Events: session_start, page_view, video_play / pause / seek / ratechange / heartbeat /
 * ended, visibility, click (with the browser's isTrusted), check_answer, session_end.
 * A batch that fails is kept (same event ids, so a resend is counted once) and retried
 * with back-off; it survives going offline and reloads (localStorage).
 */
(function (root) {
  "use strict";

  function Tracker(o) {
    if (!(this instanceof Tracker)) return new Tracker(o);
    var t = this, v = o.video;
    t.o = o;
    t.n = 0;
    t.key = "lg-queue:" + o.sessionId;
    t.queue = load(t.key);
    t.wait = 1000;
    t.lastPos = 0;
    t.playedMs = 0;
    t.nextAsk = o.challengeEveryMs || 180000;
    t.emit("session_start", {});
    t.emit("page_view", {page: String(root.location && root.location.pathname || "")});
    if (v) t.watch(v);
    root.document.addEventListener("visibilitychange", function () {
      t.emit("visibility", {visible: root.document.visibilityState === "visible"});
    });
    ["click", "keydown", "touchstart"].forEach(function (kind) {
      root.document.addEventListener(kind, function (e) {
        var el = e.target || {};
        t.emit("click", {target: (el.tagName || "").toLowerCase() + (el.id ? "#" + el.id : ""),
                         trusted: e.isTrusted === true});
      }, true);
    });
    root.addEventListener("online", function () { t.flush(); });
    root.addEventListener("pagehide", function () { t.end(); });
    t.timer = setInterval(function () { t.tick(); }, o.heartbeatMs || 15000);
    t.flusher = setInterval(function () { t.flush(); }, o.batchMs || 5000);
  }

  function load(key) {
    try { return JSON.parse(root.localStorage.getItem(key) || "[]"); } catch (e) { return []; }
  }

  Tracker.prototype.save = function () {
    try { root.localStorage.setItem(this.key, JSON.stringify(this.queue)); } catch (e) { /* full: memory only */ }
  };

  Tracker.prototype.emit = function (type, extra) {
    var o = this.o, e = {event_id: o.sessionId + "-" + Date.now().toString(36) + "-" + (this.n++),
                         ts: new Date().toISOString(), type: type, course_id: o.courseId, session_id: o.sessionId};
    for (var k in extra) if (extra[k] !== undefined && extra[k] !== null) e[k] = extra[k];
    this.queue.push(e);
    this.save();
    if (this.queue.length >= (o.batchSize || 100)) this.flush();
    return e;
  };

  Tracker.prototype.media = function (v) {
    return {video_id: this.o.videoId, position: round(v.currentTime)};
  };

  function round(x) { return Math.round((x || 0) * 1000) / 1000; }

  Tracker.prototype.watch = function (v) {
    var t = this;
    function m(extra) { var e = t.media(v); for (var k in extra) e[k] = extra[k]; return e; }
    v.addEventListener("play", function () {
      t.emit("video_play", m({duration: isFinite(v.duration) ? round(v.duration) : undefined,
                               rate: v.playbackRate, muted: v.muted || v.volume === 0}));
    });
    v.addEventListener("pause", function () { if (!v.ended) t.emit("video_pause", m({})); });
    v.addEventListener("seeked", function () {
      t.emit("video_seek", {video_id: t.o.videoId, from_position: round(t.lastPos), to_position: round(v.currentTime)});
      t.lastPos = v.currentTime;
    });
    v.addEventListener("timeupdate", function () { if (!v.seeking) t.lastPos = v.currentTime; });
    v.addEventListener("ratechange", function () { t.emit("video_ratechange", m({rate: v.playbackRate})); });
    v.addEventListener("ended", function () { t.emit("video_ended", m({})); });
    t.v = v;
  };

  Tracker.prototype.tick = function () {
    var v = this.v, o = this.o;
    if (!v || v.paused || v.ended) return;
    this.emit("video_heartbeat", this.media(v));
    var last = this.queue[this.queue.length - 1];
    last.rate = v.playbackRate;
    last.muted = v.muted || v.volume === 0;
    last.visible = root.document.visibilityState === "visible";
    this.save();
    this.playedMs += o.heartbeatMs || 15000;
    if (o.onChallenge && this.playedMs >= this.nextAsk) {
      this.nextAsk = this.playedMs + (o.challengeEveryMs || 180000);
      this.ask();
    }
  };

  /* Ask the relay whether the service has a challenge now; show it through onChallenge
   * (a Promise of the chosen index) and send the answer as check_answer. */
  Tracker.prototype.ask = function () {
    var t = this, v = t.v;
    return root.fetch(t.o.relay + "/challenge", {method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({session_id: t.o.sessionId, video_id: t.o.videoId, position: v ? round(v.currentTime) : 0})
    }).then(function (r) { return r.status === 200 ? r.json() : null; }).then(function (c) {
      if (!c) return null;
      return Promise.resolve(t.o.onChallenge(c)).then(function (choice) {
        if (choice === null || choice === undefined) return null;
        var e = t.emit("check_answer", {check_id: c.challenge_id, choice: choice});
        t.flush();
        return e;
      });
    }).catch(function () { return null; });
  };

  Tracker.prototype.flush = function () {
    var t = this;
    if (t.busy || !t.queue.length) return Promise.resolve(null);
    if (root.navigator && root.navigator.onLine === false) return Promise.resolve(null);
    var batch = t.queue.slice(0, 500);
    t.busy = true;
    return root.fetch(t.o.relay + "/events", {method: "POST", headers: {"Content-Type": "application/json"},
                                              body: JSON.stringify(batch), keepalive: true})
      .then(function (r) {
        t.busy = false;
        /* 5xx, 429, and a relay not yet configured (401/403/404): keep the batch and retry */
        if (r.status >= 500 || r.status === 429 || r.status === 401 || r.status === 403 || r.status === 404) {
          throw new Error("retry");
        }
        t.queue = t.queue.slice(batch.length);  /* taken, or a body refused for good (400/413/422) */
        t.save();
        t.wait = 1000;
        return r;
      }).catch(function () {
        t.busy = false;
        t.wait = Math.min(60000, t.wait * 2);
        setTimeout(function () { t.flush(); }, t.wait);
        return null;
      });
  };

  Tracker.prototype.end = function () {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.timer);
    clearInterval(this.flusher);
    this.emit("session_end", {});
    var body = JSON.stringify(this.queue);
    if (root.navigator && root.navigator.sendBeacon &&
        root.navigator.sendBeacon(this.o.relay + "/events", new Blob([body], {type: "application/json"}))) {
      this.queue = [];
      this.save();
    }
  };

  root.LearnGuardTracker = Tracker;
  /* video.js: player.learnguard({relay, videoId, courseId, sessionId, onChallenge}) */
  if (root.videojs && root.videojs.registerPlugin) {
    root.videojs.registerPlugin("learnguard", function (o) {
      var opts = {}, k;
      for (k in o) opts[k] = o[k];
      opts.video = this.el().querySelector("video");
      return new Tracker(opts);
    });
  }
})(typeof window !== "undefined" ? window : this);
