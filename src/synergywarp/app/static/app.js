// SynergyWarp page: submits a job, polls its state, shows the result beside the driving.
// Plain JavaScript, no libraries, no requests to any other origin.
"use strict";

const $ = (id) => document.getElementById(id);
let info = null;
let polling = null;

function setStatus(text, state) {
  $("status").textContent = text;
  $("status").dataset.state = state || "";
}

function showError(message) {
  const line = $("error");
  line.textContent = message ? "error: " + message : "";
  line.hidden = !message;
}

function showWarnings(list) {
  const box = $("warnings");
  box.replaceChildren(...(list || []).map((w) => {
    const item = document.createElement("li");
    item.textContent = "warning: " + w;
    return item;
  }));
}

async function loadInfo() {
  const response = await fetch("/api/info");
  info = await response.json();
  $("model").textContent = info.model ? "Model: " + info.model : "";
  $("job-panel").hidden = !info.jobs;
  const sizes = $("output-size");
  for (const size of info.output_sizes) {
    const option = document.createElement("option");
    option.value = String(size);
    option.textContent = size + " px";
    sizes.append(option);
  }
  if (info.default_output_size) sizes.options[0].textContent = `default (${info.default_output_size} px)`;
  $("smooth").value = info.defaults.smooth;
  $("smooth-value").textContent = info.defaults.smooth;
  if (info.live) startLive();
}

function startLive() {
  $("live-panel").hidden = false;
  $("live-view").src = "/api/live.mjpg";
  const tick = async () => {
    try {
      const s = await (await fetch("/api/live")).json();
      if (s.frames !== undefined) {
        $("live-stats").textContent = `${s.frames} frames, ${s.fps.toFixed(1)} fps, latency ` +
          `${Math.round(s.latency_ms_p50)} ms median; ${s.dropped} camera frames dropped` +
          (s.running ? "" : " (ended)");
      }
      if (s.running) setTimeout(tick, 1000);
    } catch (e) { /* the live command has stopped */ }
  };
  tick();
}

function checkSizes(form) {
  let total = 0;
  for (const input of form.querySelectorAll("input[type=file]")) {
    for (const file of input.files) total += file.size;
  }
  if (total > info.max_upload_mb * 1024 * 1024) {
    return `upload too large (limit ${info.max_upload_mb} MB; start the app with --max-upload-mb to change it)`;
  }
  return null;
}

function describe(job) {
  if (job.state === "queued") {
    const ahead = job.position - 1;
    return `Queued: position ${job.position}` + (ahead ? ` (${ahead} job${ahead > 1 ? "s" : ""} ahead of yours)` : " (next)");
  }
  if (job.state === "running") {
    const total = job.total ? "/" + job.total : "";
    if (job.stage === "tracking") return `Tracking the driving face: ${job.done}${total} frames`;
    if (job.stage === "animating") return `Animating: ${job.done}${total} frames`;
    return "Preparing the source and references…";
  }
  if (job.state === "done") return `Done: ${job.num_frames} frames in ${job.seconds.toFixed(1)} s`;
  return "Failed";
}

function showJob(job) {
  setStatus(describe(job), job.state);
  $("status").dataset.position = job.position;
  const bar = $("progress");
  bar.hidden = job.state !== "running" || !job.total;
  if (job.total) {
    const share = job.stage === "animating" ? 0.5 + 0.5 * job.done / job.total : 0.5 * job.done / job.total;
    bar.value = Math.min(1, share);
  }
  showWarnings(job.warnings);
  if (job.state === "error") showError(job.error);
  if (job.state === "done") showResult(job);
}

function showResult(job) {
  const isImage = job.driving_kind === "image";
  $("driving-video").hidden = isImage;
  $("driving-image").hidden = !isImage;
  if (isImage) $("driving-image").src = job.driving_url; else $("driving-video").src = job.driving_url;
  $("result-video").src = job.result_url;
  $("download").href = job.result_url + "?download=1";
  $("download").setAttribute("download", `synergywarp_${job.id}.mp4`);
  $("result").hidden = false;
}

async function poll(id) {
  try {
    const response = await fetch(`/api/jobs/${id}`);
    const job = await response.json();
    if (!response.ok) throw new Error(job.error || response.statusText);
    showJob(job);
    if (job.state === "done" || job.state === "error") {
      $("run").disabled = false;
      return;
    }
  } catch (e) {
    showError(String(e.message || e));
    $("run").disabled = false;
    return;
  }
  polling = setTimeout(() => poll(id), 400);
}

async function submit(event) {
  event.preventDefault();
  const form = $("job-form");
  clearTimeout(polling);
  showError(null);
  showWarnings([]);
  $("result").hidden = true;
  const tooLarge = checkSizes(form);
  if (tooLarge) { showError(tooLarge); return; }
  const data = new FormData(form);
  if (!$("use-references").checked) data.set("use_references", "0");
  $("run").disabled = true;
  setStatus("Uploading…", "uploading");
  try {
    const response = await fetch("/api/jobs", { method: "POST", body: data });
    const job = await response.json();
    if (!response.ok) {
      setStatus("", "rejected");
      showError(job.error || response.statusText);
      $("run").disabled = false;
      return;
    }
    showJob(job);
    poll(job.id);
  } catch (e) {
    setStatus("", "rejected");
    showError(String(e.message || e));
    $("run").disabled = false;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("job-form").addEventListener("submit", submit);
  $("smooth").addEventListener("input", () => { $("smooth-value").textContent = $("smooth").value; });
  $("driving").addEventListener("change", () => {
    document.querySelector("input[name=driving_choice][value=upload]").checked = true;
  });
  loadInfo();
});
