// LearnGuard dashboard: plain JS over the /v1 API with the supervisor's key.
const LABELS = {
  zh: { title: "学习诚信督查", key: "访问密钥", login: "登录", flagged: "疑似违规学员", pattern: "类型", status: "状态",
        minRisk: "最低风险", course: "课程", apply: "筛选", learner: "学员", org: "单位", risk: "风险",
        evidence: "证据", timeline: "播放时间线（媒体位置 / 时间）", delivered: "服务器已送达", challenge: "抽查",
        passed: "通过", failed: "答错", missed: "未答", pending: "待答", ranking: "单位排名（红榜 / 黑榜）",
        learners: "学员", hours: "人均有效学时", completion: "完成率", flaggedRate: "违规率", confirmedRate: "确认率",
        list: "榜单", trend: "每日违规会话占比", confirm: "确认违规", dismiss: "排除", note: "备注",
        honour: "红榜", warning: "黑榜", session: "会话", reviewed: "已审核", position: "媒体位置（秒）", time: "时间",
        participation: "参与度", attitude: "学习态度", mastery: "掌握程度", overall: "综合", badKey: "密钥无效或无权限" },
  en: { title: "Learning integrity", key: "Access key", login: "Log in", flagged: "Flagged learners", pattern: "Pattern",
        status: "Status", minRisk: "Min. risk", course: "Course", apply: "Apply", learner: "Learner", org: "Unit",
        risk: "Risk", evidence: "Evidence", timeline: "Playback timeline (media position / time)",
        delivered: "delivered by the server", challenge: "challenge", passed: "passed", failed: "failed",
        missed: "missed", pending: "pending",
        ranking: "Ranking of units (honour / warning)", learners: "Learners", hours: "Effective h / learner",
        completion: "Completion", flaggedRate: "Flagged", confirmedRate: "Confirmed", list: "List",
        trend: "Flagged share of sessions per day", confirm: "Confirm", dismiss: "Dismiss", note: "Note",
        honour: "honour", warning: "warning", session: "Session", reviewed: "reviewed", position: "media position (s)",
        time: "time", participation: "Participation", attitude: "Attitude", mastery: "Mastery", overall: "Overall",
        badKey: "unknown key or not allowed" },
};
let lang = "zh";
const t = (k) => LABELS[lang][k] || k;
const $ = (sel) => document.querySelector(sel);
const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);

function applyLabels() {
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  $("#lang").textContent = lang === "zh" ? "English" : "中文";
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
}

async function api(path, options = {}) {
  const key = sessionStorage.getItem("lg-key");
  const response = await fetch(path, { ...options, headers: { ...(options.headers || {}), Authorization: `Bearer ${key}`,
    "Content-Type": "application/json", "Accept-Language": lang === "zh" ? "zh-CN" : "en" } });
  if (!response.ok) throw new Error((await response.json()).error || response.statusText);
  return response.json();
}

async function loadFlagged() {
  const params = new URLSearchParams({ limit: "200" });
  if ($("#f-pattern").value) params.set("pattern", $("#f-pattern").value);
  if ($("#f-status").value) params.set("status", $("#f-status").value);
  if ($("#f-course").value) params.set("course_id", $("#f-course").value);
  params.set("min_risk", $("#f-risk").value || "0");
  const data = await api(`/v1/reports/flagged?${params}`);
  $("#flagged tbody").innerHTML = data.items.map((item) => `
    <tr class="learner-row" data-learner="${esc(item.learner_id)}" data-course="${esc(item.course_id)}">
      <td>${esc(item.learner_id)}</td><td>${esc(item.org_id)}</td><td>${esc(item.course_id)}</td>
      <td>${item.risk.toFixed(2)}</td><td>${item.patterns.map((p) => `<span class="pill">${esc(p)}</span>`).join("")}</td>
      <td>${[...new Set(item.flags.map((f) => esc(f.status_label || f.status)))].join(", ")}</td></tr>`).join("");
  document.querySelectorAll(".learner-row").forEach((row) => row.addEventListener("click",
    () => openLearner(row.dataset.learner, row.dataset.course, data.items.find((i) => i.learner_id === row.dataset.learner
      && i.course_id === row.dataset.course))));
}

async function openLearner(learnerId, courseId, item) {
  $("#learner").hidden = false;
  $("#learner-id").textContent = `${learnerId} · ${courseId}`;
  try {
    const portrait = await api(`/v1/learners/${encodeURIComponent(learnerId)}?course_id=${encodeURIComponent(courseId)}`);
    const entry = portrait.courses[0];
    const a = entry.assessment;
    $("#portrait").innerHTML = `<div class="scores">
      <span>${t("participation")}: <b>${a.participation}</b></span><span>${t("attitude")}: <b>${a.attitude}</b></span>
      <span>${t("mastery")}: <b>${a.mastery ?? "—"}</b></span><span>${t("overall")}: <b>${a.overall}</b></span></div>
      <ul>${a.explanations.map((e) => `<li>${esc(e)}</li>`).join("")}</ul>`;
  } catch (err) { $("#portrait").textContent = err.message; }
  $("#flags").innerHTML = item.flags.map((f) => `
    <div class="flag reviewed-${esc(f.status)}" data-flag="${esc(f.flag_id)}">
      <b title="${esc(f.pattern)}">${esc(f.label || f.pattern)}</b> · ${t("session")} <a href="#" class="session-link" data-session="${esc(f.session_id)}">${esc(f.session_id)}</a>
      · ${t("risk")} ${f.confidence.toFixed(2)} · <span class="flag-status">${esc(f.status)}</span>
      <ul>${f.reasons.map((r) => `<li>${esc(r.message)}</li>`).join("")}</ul>
      <input class="review-note" placeholder="${t("note")}" size="30">
      <button class="confirm" type="button">${t("confirm")}</button>
      <button class="dismiss" type="button">${t("dismiss")}</button>
    </div>`).join("");
  document.querySelectorAll(".flag").forEach((box) => {
    box.querySelector(".confirm").addEventListener("click", () => review(box, "confirmed"));
    box.querySelector(".dismiss").addEventListener("click", () => review(box, "dismissed"));
    box.querySelector(".session-link").addEventListener("click", (e) => { e.preventDefault(); drawTimeline(e.target.dataset.session); });
  });
  if (item.flags.length) await drawTimeline(item.flags[0].session_id);
}

async function review(box, decision) {
  const result = await api(`/v1/flags/${box.dataset.flag}/review`, { method: "POST",
    body: JSON.stringify({ decision, note: box.querySelector(".review-note").value }) });
  box.querySelector(".flag-status").textContent = `${result.status} (${t("reviewed")}: ${result.reviews.at(-1).by})`;
  box.className = `flag reviewed-${result.status}`;
}

const MARKERS = { video_play: ["triangle-right", "#2e7d32"], video_pause: ["square", "#f9a825"],
  video_seek: ["diamond", "#6a1b9a"], video_ratechange: ["star", "#d84315"], video_ended: ["x", "#37474f"],
  video_heartbeat: ["circle", "#90a4ae"], check_answer: ["hexagram", "#00838f"] };

async function drawTimeline(sessionId) {
  const data = await api(`/v1/sessions/${encodeURIComponent(sessionId)}/timeline`);
  const traces = [];
  const videos = [...new Set(data.points.filter((p) => p.video_id).map((p) => p.video_id))];
  videos.forEach((video) => {
    const pts = data.points.filter((p) => p.video_id === video && p.position !== null);
    traces.push({ x: pts.map((p) => p.at), y: pts.map((p) => p.position), mode: "lines", name: video, line: { width: 2 } });
  });
  Object.entries(MARKERS).forEach(([type, [symbol, color]]) => {
    const pts = data.points.filter((p) => p.type === type);
    if (pts.length) traces.push({ x: pts.map((p) => p.at), y: pts.map((p) => p.position ?? 0), mode: "markers", name: type,
      marker: { symbol, color, size: type === "video_heartbeat" ? 5 : 10 } });
  });
  const delivered = data.delivered || [];
  [...new Set(delivered.map((p) => p.video_id))].forEach((video) => {
    const pts = delivered.filter((p) => p.video_id === video);
    traces.push({ x: pts.map((p) => p.at), y: pts.map((p) => p.position), mode: "lines", name: `${t("delivered")} ${video}`,
      line: { width: 1, dash: "dot", color: "#00695c" } });
  });
  const outcomeColor = { passed: "#2e7d32", failed: "#b00020", missed: "#e65100", pending: "#757575" };
  (data.challenges || []).forEach((c) => {
    traces.push({ x: [c.at], y: [0], mode: "markers+text", name: `${t("challenge")} ${t(c.outcome)}`, showlegend: false,
      text: [c.latency_s === null ? t(c.outcome) : `${t(c.outcome)} ${c.latency_s}s`], textposition: "top center",
      marker: { symbol: "star-triangle-up", size: 13, color: outcomeColor[c.outcome] } });
  });
  const clicks = data.points.filter((p) => p.type === "click");
  if (clicks.length) traces.push({ x: clicks.map((p) => p.at), y: clicks.map(() => 0), mode: "markers", name: "input",
    marker: { symbol: clicks.map((p) => (p.extra === 0 ? "x" : "line-ns")), size: 9,
              color: clicks.map((p) => (p.extra === 0 ? "#b00020" : "#1565c0")) } });
  const shapes = [];
  let hiddenFrom = null;
  data.points.filter((p) => p.type === "visibility").forEach((p) => {
    if (p.extra === 0) hiddenFrom = p.at;
    else if (hiddenFrom) { shapes.push({ type: "rect", xref: "x", yref: "paper", x0: hiddenFrom, x1: p.at, y0: 0, y1: 1,
      fillcolor: "#90a4ae", opacity: 0.15, line: { width: 0 } }); hiddenFrom = null; }
  });
  if (hiddenFrom) shapes.push({ type: "rect", xref: "x", yref: "paper", x0: hiddenFrom, x1: data.points.at(-1).at, y0: 0, y1: 1,
    fillcolor: "#90a4ae", opacity: 0.15, line: { width: 0 } });
  Plotly.newPlot("timeline", traces, { title: `${sessionId} · ${t("risk")} ${data.risk.toFixed(2)} · ${data.claimed_seconds} s → ${data.effective_seconds} s`,
    xaxis: { title: t("time") }, yaxis: { title: t("position") }, shapes, margin: { t: 40 } }, { displaylogo: false });
}

async function loadOrgs() {
  const data = await api("/v1/reports/orgs");
  $("#orgs tbody").innerHTML = data.items.map((r) => `<tr><td>${r.rank}</td><td>${esc(r.org_id)}</td><td>${r.learners}</td>
    <td>${r.effective_hours_per_learner}</td><td>${(r.completion_rate * 100).toFixed(0)}%</td>
    <td>${(r.flagged_rate * 100).toFixed(0)}%</td><td>${(r.confirmed_rate * 100).toFixed(0)}%</td>
    <td class="${r.list || ""}">${r.list ? t(r.list) : ""}</td></tr>`).join("");
  const trend = await api("/v1/reports/trend");
  const patterns = [...new Set(trend.items.flatMap((d) => Object.keys(d.share)))];
  Plotly.newPlot("trend", patterns.map((p) => ({ x: trend.items.map((d) => d.day), y: trend.items.map((d) => d.share[p] || 0),
    mode: "lines+markers", name: p })), { yaxis: { tickformat: ".0%" }, margin: { t: 20 } }, { displaylogo: false });
}

async function login() {
  sessionStorage.setItem("lg-key", $("#key").value.trim());
  try {
    await loadFlagged();
    $("#login-error").textContent = "";
    $("#app").hidden = false;
    $("#login-box").hidden = true;
    await loadOrgs();
  } catch (err) { $("#login-error").textContent = `${t("badKey")}: ${err.message}`; }
}

$("#login").addEventListener("click", login);
$("#key").addEventListener("keydown", (e) => { if (e.key === "Enter") login(); });
$("#apply").addEventListener("click", loadFlagged);
$("#lang").addEventListener("click", () => { lang = lang === "zh" ? "en" : "zh"; applyLabels(); });
applyLabels();
if (sessionStorage.getItem("lg-key")) { $("#key").value = sessionStorage.getItem("lg-key"); login(); }
