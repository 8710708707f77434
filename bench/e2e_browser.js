// Injected by bench/e2e.py into every frame of the page (Playwright init script).
// Reads the frame-number stamps (emotion_core/stamp.py) of every frame presented by
//  - the local camera stream (getUserMedia is hooked and its stream played in a tiny video), and
//  - every other <video> (the video returned by the server),
// and keeps the RTCPeerConnection for getStats(). Python drains `window.__bench.take()`.
(() => {
  if (window.__bench) return;
  const CELLS = __CELLS__; // {frame: [[x0, y0, x1, y1], ...], analysed: [...]} as fractions
  const samples = [];
  const connections = [];
  const all = [...CELLS.frame, ...CELLS.analysed];
  const bandTop = Math.min(...all.map((r) => r[1]));
  const bandBottom = Math.max(...all.map((r) => r[3]));
  const canvas = document.createElement("canvas");
  const pen = canvas.getContext("2d", { willReadFrequently: true });

  function lumas(data, width, top, height, rects) {
    return rects.map(([x0, y0, x1, y1]) => {
      const left = Math.round(x0 * width);
      const right = Math.max(left + 1, Math.round(x1 * width));
      const up = Math.round(y0 * height) - top;
      const down = Math.max(up + 1, Math.round(y1 * height) - top);
      let sum = 0;
      let count = 0;
      for (let y = up; y < down; y++) {
        for (let x = left; x < right; x++) {
          const i = 4 * (y * width + x);
          sum += 0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2];
          count++;
        }
      }
      return Math.round(sum / count);
    });
  }

  function read(video, withAnalysed) {
    const width = video.videoWidth;
    const height = video.videoHeight;
    if (!width || !height) return null;
    const top = Math.floor(bandTop * height);
    const bandHeight = Math.ceil(bandBottom * height) - top;
    if (canvas.width !== width || canvas.height !== bandHeight) {
      canvas.width = width;
      canvas.height = bandHeight;
    }
    pen.drawImage(video, 0, top, width, bandHeight, 0, 0, width, bandHeight);
    const data = pen.getImageData(0, 0, width, bandHeight).data;
    return {
      w: width,
      h: height,
      f: lumas(data, width, top, height, CELLS.frame),
      a: withAnalysed ? lumas(data, width, top, height, CELLS.analysed) : null,
    };
  }

  function watch(video, kind) {
    if (video.__benchWatched) return;
    video.__benchWatched = true;
    const step = (now, meta) => {
      const seen = read(video, kind === "remote");
      if (seen) samples.push({ k: kind, t: performance.timeOrigin + meta.presentationTime, ...seen });
      video.requestVideoFrameCallback(step);
    };
    video.requestVideoFrameCallback(step);
  }

  if (navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
    const getUserMedia = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
    navigator.mediaDevices.getUserMedia = async (constraints) => {
      const stream = await getUserMedia(constraints);
      document.querySelectorAll("video[data-bench-local]").forEach((old) => old.remove());
      const local = document.createElement("video");
      local.dataset.benchLocal = "1";
      local.muted = true;
      local.playsInline = true;
      local.autoplay = true;
      local.style.cssText =
        "position:fixed;left:0;bottom:0;width:64px;height:48px;opacity:0.02;pointer-events:none;z-index:-1";
      local.srcObject = stream;
      (document.body || document.documentElement).appendChild(local);
      local.play().catch(() => {});
      watch(local, "local");
      return stream;
    };
  }

  const Native = window.RTCPeerConnection;
  if (Native) {
    window.RTCPeerConnection = class extends Native {
      constructor(...args) {
        super(...args);
        connections.push(this);
      }
    };
  }

  setInterval(() => {
    document.querySelectorAll("video:not([data-bench-local])").forEach((v) => watch(v, "remote"));
  }, 200);

  async function stats() {
    const pc = connections[connections.length - 1];
    if (!pc) return null;
    const out = {};
    (await pc.getStats()).forEach((s) => {
      if (s.kind !== "video") return;
      if (s.type === "outbound-rtp") {
        out.sent = {
          width: s.frameWidth,
          height: s.frameHeight,
          fps: s.framesPerSecond,
          reason: s.qualityLimitationReason,
          durations: s.qualityLimitationDurations,
        };
      } else if (s.type === "inbound-rtp") {
        out.received = { width: s.frameWidth, height: s.frameHeight, fps: s.framesPerSecond };
      }
    });
    return out;
  }

  window.__bench = {
    take: () => samples.splice(0, samples.length),
    stats,
    now: () => performance.timeOrigin + performance.now(),
  };
})();
