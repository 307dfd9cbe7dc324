// LearnGuard dashboard: plain JS over the /v1 API with the supervisor's key.
const LABELS = {
  zh: { title: "学习诚信督查", key: "访问密钥", login: "登录", flagged: "疑似违规学员", pattern: "类型", status: "状态",
        minRisk: "最低风险", course: "课程", apply: "筛选", learner: "学员", org: "单位", risk: "风险",
        evidence: "证据", timeline: "播放时间线（媒体位置 / 时间）", delivered: "服务器已送达", challenge: "抽查",
        passed: "通过", failed: "答错", missed: "未答", pending: "待答", ranking: "单位排名（红榜 / 黑榜）",
        learners: "学员", hours: "人均有效学时", completion: "完成率", flaggedRate: "违规率", confirmedRate: "确认率",
        list: "榜单", trend: "每日违规会话占比", confirm: "确认违规", dismiss: "排除", note: "备注",
        honour: "红榜", warning: "黑榜", session: "会话", reviewed: "已审核", position: "媒体位置（秒）", time: "时间",
        participation: "参与度", attitude: "学习态度", mastery: "掌握程度", overall: "综合", badKey: "密钥无效或无权限",
        findLearner: "查找学员", find: "查找", loading: "加载中…", more: "加载更多", exportCsv: "导出 CSV",
        exportXlsx: "导出 Excel", bulkConfirm: "确认所选", bulkDismiss: "排除所选", level: "层级", rollup: "上一级",
        shown: "已显示", of: "条，共", history: "各课程学习记录", effective: "有效学时", claimed: "平台计时",
        progress: "进度", flags: "标记", notFound: "未找到该学员", ruled: "已处理", trendTitle: "每日违规会话占比",
        day: "日期", share: "占比", select: "选择", atRisk: "学时预警（按目前进度无法按期完成 / 将临时突击）",
        asOf: "截至", creditable: "应修学时", pace: "目前每日", needed: "今后每日需", daysLeft: "剩余天数",
        behind: "进度落后", cram: "将临时突击", noRisk: "暂无预警" },
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
        badKey: "unknown key or not allowed", findLearner: "Find a learner", find: "Find", loading: "Loading…",
        more: "Load more", exportCsv: "Export CSV", exportXlsx: "Export Excel", bulkConfirm: "Confirm selected",
        bulkDismiss: "Dismiss selected", level: "Level", rollup: "Up one level", shown: "shown", of: "of",
        history: "Courses of this learner", effective: "Effective h", claimed: "Platform h", progress: "Progress",
        flags: "Flags", notFound: "learner not found", ruled: "ruled", trendTitle: "Flagged share of sessions per day",
        day: "day", share: "share", select: "select",
        atRisk: "Early warning (will not finish at this pace / will have to cram)", asOf: "As of",
        creditable: "Creditable h", pace: "Pace h/day", needed: "Needed h/day", daysLeft: "Days left",
        behind: "behind", cram: "cramming ahead", noRisk: "no warnings" },
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

let page = { items: [], cursor: null };
let zone = "Asia/Shanghai";  // the reader's org's time zone, as /v1/reports/trend names it
const clock = (at) => new Intl.DateTimeFormat("sv-SE", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit",
  hour: "2-digit", minute: "2-digit", second: "2-digit" }).format(new Date(at));
const PAGE_SIZE = Number(new URLSearchParams(location.search).get("page_size")) || 50;

async function busy(work) {
  $("#loading").hidden = false;
  $("#flagged").setAttribute("aria-busy", "true");
  try { return await work(); } finally { $("#loading").hidden = true; $("#flagged").removeAttribute("aria-busy"); }
}

function flaggedParams() {
  const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if ($("#f-org").value.trim()) params.set("org_id", $("#f-org").value.trim());
  if ($("#f-pattern").value) params.set("pattern", $("#f-pattern").value);
  if ($("#f-status").value) params.set("status", $("#f-status").value);
  if ($("#f-course").value.trim()) params.set("course_id", $("#f-course").value.trim());
  params.set("min_risk", $("#f-risk").value || "0");
  return params;
}

function learnerRow(item, index) {
  return `<tr class="learner-row" tabindex="0" data-index="${index}" data-learner="${esc(item.learner_id)}"
      data-course="${esc(item.course_id)}">
      <td>${esc(item.learner_id)}</td><td>${esc(item.org_id)}</td><td>${esc(item.course_id)}</td>
      <td>${item.risk.toFixed(2)}</td><td>${[...new Set(item.flags.map((f) => f.label || f.pattern))].map((p) => `<span class="pill">${esc(p)}</span>`).join("")}</td>
      <td>${[...new Set(item.flags.map((f) => esc(f.status_label || f.status)))].join(", ")}</td></tr>`;
}

function bindRows() {
  document.querySelectorAll(".learner-row").forEach((row) => {
    const open = () => { const item = page.items[Number(row.dataset.index)]; openLearner(item.learner_id, item.course_id, item); };
    row.onclick = open;
    row.onkeydown = (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); open(); } };
  });
}

async function loadFlagged(append = false) {
  const params = flaggedParams();
  if (append && page.cursor) params.set("cursor", page.cursor);
  const data = await busy(() => api(`/v1/reports/flagged?${params}`));
  page = { items: append ? page.items.concat(data.items) : data.items, cursor: data.next_cursor };
  $("#flagged tbody").innerHTML = page.items.map(learnerRow).join("");
  $("#more").hidden = !page.cursor;
  $("#count").textContent = `${page.items.length} ${t("shown")}`;
  bindRows();
}

async function download(path, filename) {
  const key = sessionStorage.getItem("lg-key");
  const response = await fetch(path, { headers: { Authorization: `Bearer ${key}`, "Accept-Language": lang === "zh" ? "zh-CN" : "en" } });
  if (!response.ok) throw new Error(response.statusText);
  const link = document.createElement("a");
  link.href = URL.createObjectURL(await response.blob());
  link.download = filename;
  document.body.appendChild(link);
  link.click();
  link.remove();
}

async function findLearner(event) {
  event.preventDefault();
  const learnerId = $("#search").value.trim();
  if (!learnerId) return;
  $("#learner").hidden = false;
  $("#learner-id").textContent = learnerId;
  $("#flags").innerHTML = ""; $("#portrait").innerHTML = "";
  try {
    const portrait = await busy(() => api(`/v1/learners/${encodeURIComponent(learnerId)}`));
    $("#history").innerHTML = `<h3>${t("history")}</h3><div class="scroll"><table id="history-table"><thead><tr>
      <th>${t("course")}</th><th>${t("effective")}</th><th>${t("claimed")}</th><th>${t("progress")}</th>
      <th>${t("overall")}</th><th>${t("flags")}</th></tr></thead><tbody>${portrait.courses.map((c) => `
      <tr class="learner-row history-row" tabindex="0" data-course="${esc(c.course_id)}"><td>${esc(c.course_id)}</td>
      <td>${c.effective_hours}</td><td>${c.claimed_hours}</td><td>${c.progress === null ? "—" : `${(c.progress * 100).toFixed(0)}%`}</td>
      <td>${c.assessment.overall}</td><td>${[...new Set(c.flags.map((f) => f.label || f.pattern))].map((p) => `<span class="pill">${esc(p)}</span>`).join("")}</td></tr>`).join("")}
      </tbody></table></div>`;
    document.querySelectorAll(".history-row").forEach((row) => {
      const open = async () => {
        const params = new URLSearchParams({ course_id: row.dataset.course, org_id: portrait.org_id, limit: "1000" });
        const found = (await api(`/v1/reports/flagged?${params}`)).items.find((i) => i.learner_id === learnerId);
        await openLearner(learnerId, row.dataset.course, found || { flags: [] });
      };
      row.onclick = open;
      row.onkeydown = (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); open(); } };
    });
  } catch (err) { $("#history").textContent = `${t("notFound")}: ${err.message}`; }
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
      <input type="checkbox" class="pick" aria-label="${t("select")} ${esc(f.flag_id)}">
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

async function reviewSelected(decision) {
  const boxes = [...document.querySelectorAll("#flags .flag")].filter((box) => box.querySelector(".pick").checked);
  if (!boxes.length) return;
  const result = await api("/v1/flags/review", { method: "POST",
    body: JSON.stringify({ flag_ids: boxes.map((box) => box.dataset.flag), decision, note: "" }) });
  result.items.forEach((detail) => {
    const box = document.querySelector(`#flags .flag[data-flag="${CSS.escape(detail.flag_id)}"]`);
    if (!box) return;
    box.querySelector(".flag-status").textContent = `${detail.status} (${t("reviewed")}: ${detail.reviews.at(-1).by})`;
    box.className = `flag reviewed-${detail.status}`;
    box.querySelector(".pick").checked = false;
  });
  $("#bulk-result").textContent = `${result.items.length} ${t("ruled")}` + (result.errors.length ? ` · ${result.errors.map((e) => e.detail).join("; ")}` : "");
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
    traces.push({ x: pts.map((p) => clock(p.at)), y: pts.map((p) => p.position), mode: "lines", name: video, line: { width: 2 } });
  });
  Object.entries(MARKERS).forEach(([type, [symbol, color]]) => {
    const pts = data.points.filter((p) => p.type === type);
    if (pts.length) traces.push({ x: pts.map((p) => clock(p.at)), y: pts.map((p) => p.position ?? 0), mode: "markers", name: type,
      marker: { symbol, color, size: type === "video_heartbeat" ? 5 : 10 } });
  });
  const delivered = data.delivered || [];
  [...new Set(delivered.map((p) => p.video_id))].forEach((video) => {
    const pts = delivered.filter((p) => p.video_id === video);
    traces.push({ x: pts.map((p) => clock(p.at)), y: pts.map((p) => p.position), mode: "lines", name: `${t("delivered")} ${video}`,
      line: { width: 1, dash: "dot", color: "#00695c" } });
  });
  const outcomeColor = { passed: "#2e7d32", failed: "#b00020", missed: "#e65100", pending: "#757575" };
  (data.challenges || []).forEach((c) => {
    traces.push({ x: [clock(c.at)], y: [0], mode: "markers+text", name: `${t("challenge")} ${t(c.outcome)}`, showlegend: false,
      text: [c.latency_s === null ? t(c.outcome) : `${t(c.outcome)} ${c.latency_s}s`], textposition: "top center",
      marker: { symbol: "star-triangle-up", size: 13, color: outcomeColor[c.outcome] } });
  });
  const clicks = data.points.filter((p) => p.type === "click");
  if (clicks.length) traces.push({ x: clicks.map((p) => clock(p.at)), y: clicks.map(() => 0), mode: "markers", name: "input",
    marker: { symbol: clicks.map((p) => (p.extra === 0 ? "x" : "line-ns")), size: 9,
              color: clicks.map((p) => (p.extra === 0 ? "#b00020" : "#1565c0")) } });
  const shapes = [];
  let hiddenFrom = null;
  data.points.filter((p) => p.type === "visibility").forEach((p) => {
    if (p.extra === 0) hiddenFrom = clock(p.at);
    else if (hiddenFrom) { shapes.push({ type: "rect", xref: "x", yref: "paper", x0: hiddenFrom, x1: clock(p.at), y0: 0, y1: 1,
      fillcolor: "#90a4ae", opacity: 0.15, line: { width: 0 } }); hiddenFrom = null; }
  });
  if (hiddenFrom) shapes.push({ type: "rect", xref: "x", yref: "paper", x0: hiddenFrom, x1: clock(data.points.at(-1).at), y0: 0, y1: 1,
    fillcolor: "#90a4ae", opacity: 0.15, line: { width: 0 } });
  Plotly.newPlot("timeline", traces, { title: { text: `${sessionId} · ${t("risk")} ${data.risk.toFixed(2)} · ${data.claimed_seconds} s → ${data.effective_seconds} s` },
    xaxis: { title: { text: `${t("time")} (${zone})` } }, yaxis: { title: { text: t("position") } }, shapes, margin: { t: 50 } },
    { displaylogo: false, responsive: true });
}

function orgsParams() {
  const params = new URLSearchParams();
  if ($("#f-org").value.trim()) params.set("under", $("#f-org").value.trim());
  if ($("#f-depth").value) params.set("depth", $("#f-depth").value);
  if ($("#f-course").value.trim()) params.set("course_id", $("#f-course").value.trim());
  return params;
}

async function loadOrgs() {
  const data = await api(`/v1/reports/orgs?${orgsParams()}`);
  $("#orgs tbody").innerHTML = data.items.map((r) => `<tr class="org-row" tabindex="0" data-org="${esc(r.org_id)}"><td>${r.rank}</td><td>${esc(r.org_id)}</td><td>${r.learners}</td>
    <td>${r.effective_hours_per_learner}</td><td>${(r.completion_rate * 100).toFixed(0)}%</td>
    <td>${(r.flagged_rate * 100).toFixed(0)}%</td><td>${(r.confirmed_rate * 100).toFixed(0)}%</td>
    <td class="${r.list || ""}">${r.list ? t(r.list) : ""}</td></tr>`).join("");
  $("#ranked-by").textContent = [data.ranked_by, ...(data.notes || [])].join(" · ");
  document.querySelectorAll(".org-row").forEach((row) => {
    const drill = () => {  // drill down: the unit's learners and its sub-units
      $("#f-org").value = row.dataset.org;
      const depth = row.dataset.org.split("/").length + 1;
      $("#f-depth").value = $("#f-depth").value ? String(Math.min(depth, 3)) : "";
      refresh();
    };
    row.onclick = drill;
    row.onkeydown = (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); drill(); } };
  });
  const trend = await api(`/v1/reports/trend?${new URLSearchParams($("#f-org").value.trim() ? { under: $("#f-org").value.trim() } : {})}`);
  zone = trend.time_zone || zone;
  const patterns = [...new Set(trend.items.flatMap((d) => Object.keys(d.share)))];
  Plotly.newPlot("trend", patterns.map((p) => ({ x: trend.items.map((d) => d.day), y: trend.items.map((d) => d.share[p] || 0),
    mode: "lines+markers", name: p })), { title: { text: `${t("trendTitle")} · ${trend.time_zone}` },
    xaxis: { title: { text: t("day") } }, yaxis: { title: { text: t("share") }, tickformat: ".0%" }, margin: { t: 50 } },
    { displaylogo: false, responsive: true });
}

async function loadAtRisk() {
  const params = new URLSearchParams({ limit: "200" });
  if ($("#f-org").value.trim()) params.set("org_id", $("#f-org").value.trim());
  if ($("#f-course").value.trim()) params.set("course_id", $("#f-course").value.trim());
  if ($("#f-asof").value) params.set("as_of", `${$("#f-asof").value}T00:00:00+08:00`);
  const data = await api(`/v1/reports/at-risk?${params}`);
  $("#at-risk tbody").innerHTML = data.items.length ? data.items.map((r) => `<tr><td>${esc(r.learner_id)}</td>
    <td>${esc(r.org_id)}</td><td>${esc(r.course_id)}</td><td>${r.effective_hours}</td><td>${r.creditable_hours}</td>
    <td>${r.pace_hours_per_day.toFixed(2)}</td><td>${r.needed_hours_per_day.toFixed(2)}</td><td>${r.days_left}</td>
    <td class="warning">${[r.at_risk ? t("behind") : "", r.cramming_ahead ? t("cram") : ""].filter(Boolean).join(" · ")}</td></tr>`).join("")
    : `<tr><td colspan="9">${t("noRisk")}</td></tr>`;
}

async function refresh() {
  await loadFlagged();
  await loadOrgs();
  await loadAtRisk();
}

function rollUp() {
  const parts = $("#f-org").value.trim().split("/").filter(Boolean);
  $("#f-org").value = parts.slice(0, -1).join("/");
  refresh();
}

async function login() {
  sessionStorage.setItem("lg-key", $("#key").value.trim());
  $("#app").hidden = false;  // the loading state shows while the first page comes
  try {
    await loadFlagged();
    $("#login-error").textContent = "";
    $("#login-box").hidden = true;
    await loadOrgs();
    await loadAtRisk();
  } catch (err) { $("#app").hidden = true; $("#login-error").textContent = `${t("badKey")}: ${err.message}`; }
}

$("#login").addEventListener("click", login);
$("#key").addEventListener("keydown", (e) => { if (e.key === "Enter") login(); });
$("#apply").addEventListener("click", refresh);
$("#more").addEventListener("click", () => loadFlagged(true));
$("#search-form").addEventListener("submit", findLearner);
const exported = (format) => { const params = flaggedParams(); params.set("limit", "1000"); params.set("format", format); return params; };
$("#export-csv").addEventListener("click", () => download(`/v1/reports/flagged?${exported("csv")}`, "flagged.csv"));
$("#export-xlsx").addEventListener("click", () => download(`/v1/reports/flagged?${exported("xlsx")}`, "flagged.xlsx"));
$("#orgs-csv").addEventListener("click", () => download(`/v1/reports/orgs?${orgsParams()}&format=csv`, "ranking.csv"));
$("#orgs-xlsx").addEventListener("click", () => download(`/v1/reports/orgs?${orgsParams()}&format=xlsx`, "ranking.xlsx"));
$("#bulk-confirm").addEventListener("click", () => reviewSelected("confirmed"));
$("#bulk-dismiss").addEventListener("click", () => reviewSelected("dismissed"));
$("#rollup").addEventListener("click", rollUp);
$("#risk-go").addEventListener("click", loadAtRisk);
$("#f-depth").addEventListener("change", loadOrgs);
$("#lang").addEventListener("click", () => { lang = lang === "zh" ? "en" : "zh"; applyLabels(); });
applyLabels();
if (sessionStorage.getItem("lg-key")) { $("#key").value = sessionStorage.getItem("lg-key"); login(); }
