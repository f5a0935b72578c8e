// idmap pages: live sync progress (server-sent events) and the review page's keys. No framework.
"use strict";

function formatRate(rate) { return rate ? `${rate >= 100 ? Math.round(rate) : rate.toFixed(1)} items/s` : ""; }
function formatEta(seconds) {
  if (seconds == null) return "";
  const s = Math.max(0, Math.round(seconds));
  return s >= 60 ? `ETA ${Math.floor(s / 60)} min ${s % 60} s` : `ETA ${s} s`;
}

function showJob(box, job) {
  const state = box.querySelector("#job-state"), detail = box.querySelector("#job-detail");
  const bar = box.querySelector(".bar"), fill = box.querySelector(".fill");
  box.className = `job ${job ? job.status : "idle"}`;
  if (!job) { state.textContent = "No sync running."; detail.textContent = ""; bar.hidden = true; return; }
  const servers = job.servers.join(", ");
  const running = ["running", "waiting", "queued"].includes(job.status);
  let line = running ? `${job.status === "running" ? "Syncing" : job.status === "waiting" ? "Waiting for another process to sync" : "Queued:"} ${job.server || servers}`
                     : `Sync of ${servers} finished: ${job.status}`;
  if (job.full) line += " (full)";
  state.textContent = line;
  const parts = [];
  if (job.phase) parts.push(job.phase);
  if (job.done != null) parts.push(job.total ? `${job.done.toLocaleString()} of ${job.total.toLocaleString()}` : `${job.done.toLocaleString()} items`);
  if (running) { parts.push(formatRate(job.rate)); parts.push(formatEta(job.eta)); }
  if (!running && job.results) {
    for (const r of job.results) {
      parts.push(r.error ? `${r.server}: ${r.error}` : `${r.server}: ${r.mode}, ${r.counts.seen} seen, ${r.counts.new} new, ${r.counts.merged} merged, ${r.counts.queued} queued`);
    }
  }
  if (job.error) parts.push(job.error);
  detail.textContent = parts.filter(Boolean).join(" · ");
  bar.hidden = false;
  const share = !running ? 1 : job.total ? Math.min(1, job.done / job.total) : 0;
  fill.style.width = `${Math.round(share * 100)}%`;
}

function dashboard() {
  const box = document.getElementById("job");
  if (!box || !window.EventSource) return;
  let wasBusy = null;
  const source = new EventSource("/events");
  source.addEventListener("jobs", (event) => {
    const data = JSON.parse(event.data);
    const jobs = data.jobs;
    const current = jobs.find((j) => ["running", "waiting"].includes(j.status)) || jobs.find((j) => j.status === "queued") || jobs[jobs.length - 1];
    showJob(box, current || null);
    box.dataset.status = current ? current.status : "idle";
    if (wasBusy && !data.busy) refreshOverview();
    wasBusy = data.busy;
  });
}

async function refreshOverview() {
  const target = document.getElementById("overview");
  const response = await fetch("/partials/overview", { credentials: "same-origin" });
  if (response.ok && target) target.innerHTML = await response.text();
}

function review() {
  const click = (id) => { const el = document.getElementById(id); if (el) { el.click(); return true; } return false; };
  const follow = (id) => { const el = document.getElementById(id); if (el) { window.location.href = el.href; return true; } return false; };
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const tag = (event.target.tagName || "").toLowerCase();
    if (["input", "textarea", "select"].includes(tag)) return;
    const done = { a: () => click("accept"), r: () => click("reject"), u: () => click("undo"),
                   s: () => follow("skip"), j: () => follow("next"), k: () => follow("prev") }[event.key];
    if (done && done()) event.preventDefault();
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const page = document.body.dataset.page;
  if (page === "dashboard") dashboard();
  if (page === "review") review();
});
