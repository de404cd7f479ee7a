// coinseason dashboard: reads the public /v1 API, draws with plotly.js, keeps its state in the URL.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const DEFAULTS = { top: 50, window: 90, exclude: "default", range: "all", date: "", eth: false, stable: false,
    price: false, min_days: 7 };
  const MIN_DAYS = [1, 7, 14, 30, 90];  // the shortest season periods listed: 7 days by default, not 1-day blips
  const RANGES = { "1y": 365, "3y": 3 * 365 };
  const DAY_MS = 86400000;
  const data = { latest: null, history: [], periods: [], dominance: [], stable: [], price: [], breakdown: null,
    domLatest: null, consensus: null, margin: null, band: [] };
  let state = readUrl();
  let generation = 0;
  let syncing = 0;  // range changes of ours under way: their relayout events are not zooms
  let drawn = false;  // the season history chart has been drawn once
  let seasonFirst = Promise.resolve();
  const domReady = new Promise((resolve) => document.addEventListener("DOMContentLoaded", () => {
    performance.mark("coinseason:plotly-ready");
    resolve();
  }, { once: true }));

  // -- state <-> URL ------------------------------------------------------------------------------------------------
  function readUrl() {
    const q = new URLSearchParams(location.search);
    const int = (name, lo, hi) => {
      const v = Number.parseInt(q.get(name) ?? "", 10);
      return Number.isInteger(v) && v >= lo && v <= hi ? v : DEFAULTS[name];
    };
    const range = q.get("range") ?? "";
    const day = /^\d{4}-\d{2}-\d{2}$/;
    return {
      top: int("top", 2, 500),  // top 1 is BTC alone: no altcoin to count
      window: int("window", 1, 730),
      exclude: q.get("exclude") === "none" ? "none" : "default",
      range: Object.hasOwn(RANGES, range) || range === "all" || /^\d{4}-\d{2}-\d{2}\.\.\d{4}-\d{2}-\d{2}$/.test(range) ? range : "all",
      date: day.test(q.get("date") ?? "") ? q.get("date") : "",
      eth: q.get("eth") === "1",
      stable: q.get("stable") === "1",
      price: q.get("price") === "1",
      min_days: MIN_DAYS.includes(Number(q.get("min_days"))) ? Number(q.get("min_days")) : DEFAULTS.min_days,
    };
  }

  function writeUrl() {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(state)) {
      if (v === DEFAULTS[k]) continue;
      q.set(k, typeof v === "boolean" ? (v ? "1" : "0") : String(v));
    }
    const search = q.toString();
    history.replaceState(null, "", search ? `?${search}` : location.pathname);
  }

  function showControls() {
    $("top").value = state.top;
    $("window").value = state.window;
    $("exclude").value = state.exclude;
    $("date").value = state.date;
    $("eth").checked = state.eth;
    $("stable").checked = state.stable;
    $("price").checked = state.price;
    $("min-days").value = String(state.min_days);
    for (const b of document.querySelectorAll("[data-range]")) {
      b.setAttribute("aria-pressed", String(b.dataset.range === state.range));
    }
  }

  // -- API ----------------------------------------------------------------------------------------------------------
  const query = (extra = {}) => new URLSearchParams({ top: state.top, window: state.window, exclude: state.exclude,
    ...extra });

  async function api(path, params) {
    const url = params ? `/v1/${path}?${params}` : `/v1/${path}`;
    const headers = { Accept: "application/json" };
    if (apiKey) headers["X-API-Key"] = apiKey;
    const r = await fetch(url, { cache: "no-cache", headers });
    if (!r.ok) {
      let detail = `${r.status} ${r.statusText}`;
      try { detail = (await r.json()).detail ?? detail; } catch { /* not JSON */ }
      if (r.status === 401) askForKey(detail);
      const err = new Error(`${path}: ${detail}`);
      err.status = r.status;
      err.detail = detail;
      throw err;
    }
    return r.json();
  }

  // a part the page shows only where the server has it (the consensus routes): any failure leaves it out
  const optional = (path, params) => api(path, params).catch(() => null);

  // -- formatting ---------------------------------------------------------------------------------------------------
  const fixed = (v, digits) => (v === null || v === undefined ? "–" : v.toFixed(digits));
  const pct = (v) => (v === null || v === undefined ? "–" : `${v.toFixed(2)} %`);
  const addDays = (day, n) => new Date(Date.parse(`${day}T00:00:00Z`) + n * DAY_MS).toISOString().slice(0, 10);
  const utc = (stamp) => stamp.replace("T", " ").replace(/:00Z$/, " UTC").replace(/Z$/, " UTC");
  const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  const SEASON_NAMES = { altcoin: "Altcoin season", bitcoin: "Bitcoin season", neutral: "Neutral", none: "No value" };
  const signed = (v, digits) => (v === null || v === undefined ? "–" : `${v > 0 ? "+" : v < 0 ? "−" : "±"}${
    Math.abs(v).toFixed(digits)}`);

  // how old a value of `stamp` (its day's 00:00 UTC) is, in words
  function ageWords(stamp) {
    const ms = Date.now() - Date.parse(stamp);
    if (!Number.isFinite(ms)) return "";
    const days = Math.floor(ms / DAY_MS);
    if (days >= 2) return `${days.toLocaleString("en-US")} days old`;
    if (days === 1) return "1 day old";
    const hours = Math.max(0, Math.floor(ms / 3600000));
    return hours <= 1 ? (hours === 1 ? "1 hour old" : "less than an hour old") : `${hours} hours old`;
  }

  const REFRESH = "To refresh: import a newer file (coinseason import PATH --format coingecko-daily) or configure a " +
    "provider (COINSEASON_INGEST_PROVIDER=coingecko, then coinseason serve), which keeps it current.";

  // -- loading ------------------------------------------------------------------------------------------------------
  // Every part is drawn as soon as its own requests are in; one that fails leaves the others drawn. A load counts as
  // done (body data-ready + 1, data-loaded = its generation) once every part has answered, well or not.
  async function loadAll(reason) {
    const mine = ++generation;
    const current = () => mine === generation;
    document.body.dataset.generation = String(mine);
    setStatus(reason === "live" ? "Updating (new data)…" : "Loading…");
    const q = query();
    if (!state.stable) data.stable = [];  // fetched again when next turned on: it may be old by then
    if (!state.price) data.price = [];
    const latest = api("season/latest", q).then(
      (v) => { if (current()) { data.latest = v; drawNow(); } },
      (err) => { if (current()) { data.latest = null; drawNow(); } throw err; });  // no old figures under new controls
    // both BTC dominance figures (the series' exclusions and the whole market) with their changes and yearly range
    const domLatest = api("dominance/latest", new URLSearchParams({ exclude: state.exclude })).then(
      (v) => { if (current()) { data.domLatest = v; drawNow(); } },
      (err) => { if (current()) { data.domLatest = null; drawNow(); } throw err; });
    const history = api("season/history", q).then((v) => { if (current()) data.history = v.values; });
    const periods = api("seasons", query({ min_days: state.min_days })).then((v) => {
      if (current()) { data.periods = v.values; drawPeriods(); }
    });
    // the season chart is drawn as soon as its two requests are in, before the others finish
    const season = Promise.all([history, periods]).then(async () => {
      if (!drawn) performance.mark("coinseason:first-data");
      if (current()) { await drawSeason(); await applyRange(["season-chart"]); }
    }).catch((err) => blank(current, "season-chart", err));
    if (!drawn) seasonFirst = season.catch(() => {});
    // consensus across definitions and the margin: shown where the server has them, left out where not
    const consensus = Promise.all([optional("season/consensus", q), optional("season/margin", q)]).then(([c, m]) => {
      if (current()) { data.consensus = c; data.margin = m; drawNow(); }
    });
    const band = optional("season/consensus/history", q).then(async (v) => {
      if (!current()) return;
      data.band = v?.values ?? [];
      await season.catch(() => {});
      if (current() && data.band.length && $("season-chart").data) { await drawSeason(); await applyRange(["season-chart"]); }
    });
    const dominanceJobs = [api("dominance/history", new URLSearchParams({ exclude: state.exclude })).then((v) => {
      if (current()) { data.dominance = v.values; data.dominanceMethod = v.method; }
    })];
    if (state.stable) dominanceJobs.push(loadStable(mine));
    if (state.price) dominanceJobs.push(loadPrice(mine));
    const dominance = Promise.all(dominanceJobs).then(async () => {
      if (current()) { await drawDominance(); await applyRange(["dominance-chart"]); }
    }).catch((err) => blank(current, "dominance-chart", err));
    // a chosen day is checked against the history first: one outside it is dropped, not asked for
    const day = state.date ? history.then(checkDate, () => {}) : Promise.resolve();
    const breakdown = day.then(() => loadBreakdown(mine)).catch((err) => blank(current, "breakdown-chart", err));
    const progress = loadProgress();
    const results = await Promise.allSettled([latest, domLatest, season, dominance, breakdown, consensus, band,
      progress]);
    if (!current()) return;
    const failed = results.filter((r) => r.status === "rejected").map((r) => r.reason);
    // an empty store is a state, not an error: every part answers 404, dominance (which needs one day) too
    const empty = failed.length > 0 && failed.every((e) => e.status === 404) &&
      results[1].status === "rejected";
    showEmpty(empty ? results[1].reason.detail : null);
    if (failed.length && !empty) showError(failed);
    else {
      clearError();
      setStatus(empty ? "No data yet" : `Shown: top ${state.top}, ${state.window}-day window, exclusions ${state.exclude}`);
    }
    document.body.dataset.loaded = String(mine);
    document.body.dataset.ready = String(Number(document.body.dataset.ready ?? 0) + 1);
  }

  function showEmpty(detail) {
    const was = document.body.classList.contains("is-empty");
    $("empty").hidden = detail === null;
    // a server that names both routes itself is shown as it says them (`commands` as code); else the page's own list
    const own = !detail || !(/configure a provider/i.test(detail) && /coinseason import/i.test(detail));
    for (const e of document.querySelectorAll("#empty .own-routes")) e.hidden = !own;
    const parts = (detail ?? "").split("`").map((text, i) => {
      if (i % 2 === 0) return document.createTextNode(text);
      const code = document.createElement("code");
      code.textContent = text;
      return code;
    });
    $("empty-detail").replaceChildren(...(detail && own ? [document.createTextNode("The server says: ")] : []), ...parts);
    $("empty-detail").className = own ? "hint" : "";
    document.body.classList.toggle("is-empty", detail !== null);  // the style sheet hides the data cards meanwhile
    if (was && detail === null) {  // data has landed: charts drawn while hidden take their box's size now
      for (const id of ["season-chart", "dominance-chart", "breakdown-chart"]) {
        if ($(id).data) window.Plotly.Plots.resize($(id));
      }
    }
  }

  // -- backfill progress (the first run with a provider), from /readyz's jobs.backfill when the server has one -----
  const BACKFILLING = ["planning", "backfilling", "waiting", "refused"];
  let progressTimer = null;
  let wasBackfilling = false;
  async function loadProgress() {
    clearTimeout(progressTimer);
    let job = null;
    try {
      const r = await fetch("/readyz", { cache: "no-cache", headers: { Accept: "application/json" } });
      job = (await r.json())?.jobs?.backfill ?? null;  // 503 (not ready) carries the same body
    } catch { job = null; }
    drawProgress(job);
    const active = job !== null && BACKFILLING.includes(job.phase) && job.phase !== "refused";
    if (active) progressTimer = setTimeout(loadProgress, 15000);
    else if (wasBackfilling) loadAll("backfill");  // the backfill ended: show what it brought
    wasBackfilling = active;
  }

  function drawProgress(job) {
    const shown = job !== null && typeof job === "object" && BACKFILLING.includes(job.phase);
    $("progress").hidden = !shown;
    $("progress").dataset.phase = shown ? job.phase : "";
    if (!shown) return;
    const done = Number(job.coins_done) || 0;
    const total = Number(job.coins_total) || 0;
    const parts = [job.phase === "refused" ? "Backfill refused" : job.phase === "waiting" ? "Backfill waiting"
      : job.phase === "planning" ? "Backfill starting" : "Backfilling history"];
    if (total) parts.push(`${done.toLocaleString("en-US")} of ${total.toLocaleString("en-US")} coins`);
    if (job.from && job.to) parts.push(`${job.from} to ${job.to}`);
    if (Number.isFinite(job.eta_seconds) && job.eta_seconds > 0) parts.push(`about ${durationWords(job.eta_seconds)} left`);
    $("progress-text").textContent = parts.join(" · ") + (job.message ? `. ${job.message}` : "");
    $("progress-bar").hidden = !total;
    $("progress-bar").value = total ? done / total : 0;
  }

  function durationWords(seconds) {
    if (seconds < 90) return `${Math.round(seconds)} s`;
    if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
    return `${(seconds / 3600).toFixed(1)} h`;
  }

  // a chart whose data failed to load under the controls in force is emptied, not left showing other controls' data
  async function blank(current, id, err) {
    if (current()) {
      await domReady;
      if ($(id).data) window.Plotly.purge($(id));
      delete $(id).dataset.zoomable;  // purge dropped the zoom listener: the next draw adds it again
      if (id === "season-chart") data.history = [];
      if (id === "dominance-chart") data.dominance = [];
      if (id === "breakdown-chart") data.breakdown = null;
    }
    throw err;
  }

  const isDay = (text) => {  // YYYY-MM-DD of a real day: 2024-02-30 is none
    const t = /^\d{4}-\d{2}-\d{2}$/.test(text) ? Date.parse(`${text}T00:00:00Z`) : Number.NaN;
    return Number.isFinite(t) && new Date(t).toISOString().slice(0, 10) === text;
  };

  function checkDate() {
    const h = data.history;
    if (!state.date || !h.length) return true;
    const first = h[0].date;
    const last = h[h.length - 1].date;
    if (state.date >= first && state.date <= last) return true;
    setNote(`${state.date} is outside the history (${first} to ${last}): the coins are shown for the latest day.`);
    state.date = "";
    writeUrl();
    showControls();
    return false;
  }

  let breakdowns = 0;
  async function loadBreakdown(mine = generation) {
    const asked = ++breakdowns;  // a day typed digit by digit asks several times: only the last answer is drawn
    const extra = state.date ? { date: state.date } : {};
    const v = await api("season/breakdown", query(extra));
    if (mine === generation && asked === breakdowns) { data.breakdown = v; await drawBreakdown(); }
  }

  async function loadStable(mine = generation) {
    const v = await api("dominance/history", new URLSearchParams({ exclude: "none" }));
    if (mine === generation) data.stable = v.values;
  }

  async function loadPrice(mine = generation) {
    const v = await api("coins/bitcoin/history");
    if (mine === generation) data.price = v.values;
  }

  // -- drawing ------------------------------------------------------------------------------------------------------
  function baseLayout() {
    const fg = css("--fg");
    const grid = css("--grid");
    return {
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)", font: { color: fg, size: 12 },
      margin: { l: 48, r: 16, t: 8, b: 36 }, hovermode: "x unified", showlegend: true,
      legend: { orientation: "h", y: 1.12, x: 0 },
      xaxis: { type: "date", gridcolor: grid, linecolor: grid, hoverformat: "%Y-%m-%d", tickformatstops: DATE_TICKS },
      yaxis: { gridcolor: grid, zerolinecolor: grid, automargin: true },
    };
  }
  // dates as YYYY-MM-DD; coarser ticks as YYYY-MM or YYYY
  const DATE_TICKS = [
    { dtickrange: [null, "M1"], value: "%Y-%m-%d" },
    { dtickrange: ["M1", "M12"], value: "%Y-%m" },
    { dtickrange: ["M12", null], value: "%Y" },
  ];
  const CONFIG = { responsive: true, displaylogo: false, modeBarButtonsToRemove: ["lasso2d", "select2d"] };

  async function plot(id, traces, layout) {
    await domReady;  // plotly.js, the next deferred script, has run by then
    if (id !== "season-chart") await seasonFirst;  // on the first view the history chart is drawn first
    const gd = $(id);
    await window.Plotly.react(gd, traces, layout, CONFIG);
    if (id !== "breakdown-chart" && !gd.dataset.zoomable) {
      gd.dataset.zoomable = "1";
      gd.on("plotly_relayout", onZoom);
    }
    if (id === "season-chart" && !drawn) {
      drawn = true;
      performance.mark("coinseason:first-chart");  // the full season history is on screen
      document.body.dataset.firstChartMs = performance.now().toFixed(1);
    }
  }

  const BLANK = { altcoin_season_index: null, bitcoin_season_index: null, btc_dominance: null, season: "none",
    season_since: null, as_of: "", n_outperforming: "–", n_eligible: "–", stale: false, date: "" };

  // "1 d +0.8 · 7 d −2.3 · 30 d +5.1" and "52 w low 12.0 · high 87.0" under a figure; empty without a glance
  function drawGlance(id, glance, digits, unit) {
    const moves = $(`${id}-moves`);
    const range = $(`${id}-range`);
    const span = (text, cls, title) => {
      const e = document.createElement("span");
      e.textContent = text;
      if (cls) e.className = cls;
      if (title) e.title = title;
      return e;
    };
    if (!glance) { moves.replaceChildren(); range.replaceChildren(); return; }
    moves.replaceChildren(...glance.changes.map((c) => span(`${c.days} d ${signed(c.change, digits)}`,
      c.change > 0 ? "up" : c.change < 0 ? "down" : "",
      c.value === null ? `no value on ${c.date}` : `${fixed(c.value, digits)}${unit} on ${c.date}`)));
    range.replaceChildren(
      span(`52 w low ${fixed(glance.low_52w, digits)}`, "", glance.low_52w_date ? `on ${glance.low_52w_date}` : ""),
      span(`high ${fixed(glance.high_52w, digits)}`, "", glance.high_52w_date ? `on ${glance.high_52w_date}` : ""));
    moves.setAttribute("aria-label", `change against 1, 7 and 30 days before (${unit ? "percentage points" : "points"})`);
  }

  function drawNow() {  // without an answer (the request failed) every figure is blanked
    const v = data.latest ?? BLANK;
    const dom = data.domLatest;
    $("asi").textContent = fixed(v.altcoin_season_index, 1);
    $("bsi").textContent = fixed(v.bitcoin_season_index, 1);
    $("btcd").textContent = pct(v.btc_dominance);
    // the dominance of the series' universe, and beside it the whole market's (the published BTC.D)
    const whole = state.exclude === "none";
    $("btcd-label").textContent = whole ? "BTC dominance, whole market" : "BTC dominance, without stablecoins & tokens";
    $("btcd-label").title = v.btc_dominance_basis ?? "";
    $("whole-figure").hidden = whole;
    $("btcd-all").textContent = pct(v.btc_dominance_whole_market ?? dom?.whole_market?.btc_dominance);
    drawGlance("asi", data.latest?.glance, 1, "");
    drawGlance("btcd", dom?.glance, 2, " %");
    drawGlance("btcd-all", dom?.whole_market?.glance, 2, " %");
    const basis = $("dominance-basis");
    basis.hidden = !v.btc_dominance_basis;
    const wholeBasis = (dom?.whole_market?.basis ?? "every coin of the source, nothing excluded")
      .replace(/^whole market: /, "");
    basis.textContent = whole ? `BTC dominance: share of ${v.btc_dominance_basis}.` : v.btc_dominance_basis
      ? `BTC dominance: share of ${v.btc_dominance_basis}. Whole market: share of ${wholeBasis} (the figure ` +
        "CoinMarketCap and CoinGecko publish)." : "";
    $("season").textContent = data.latest ? SEASON_NAMES[v.season] + (v.season_since ? ` since ${v.season_since}` : "")
      : "–";
    $("now-title").textContent = v.date ? `Latest values: ${v.date}` : "Latest values";
    $("asof").textContent = v.as_of ? utc(v.as_of) : "–";
    $("asof").dateTime = v.as_of;
    const age = v.as_of ? ageWords(v.as_of) : "";
    $("age").textContent = age || "–";
    $("counted").textContent = data.latest ? `${v.n_outperforming} of ${v.n_eligible} eligible altcoins beat BTC`
      : "–";
    const marker = $("marker");
    const value = v.altcoin_season_index;
    marker.hidden = value === null;
    if (value !== null) marker.style.left = `${value}%`;
    $("scale").setAttribute("aria-valuenow", value === null ? "0" : value.toFixed(1));
    $("scale").setAttribute("aria-valuetext", value === null ? "no value" : `${value.toFixed(1)}: ${SEASON_NAMES[v.season]}`);
    const stale = $("stale");
    stale.hidden = !v.stale;
    stale.textContent = v.stale ? `Stale data: the latest day, ${v.date}, is ${age}; no newer data has landed. ${
      REFRESH}` : "";
    drawConsensus();
  }

  function drawConsensus() {
    const c = data.latest ? data.consensus : null;
    const line = $("consensus");
    line.hidden = !c || c.agreement === null || c.agreement === undefined;
    if (!line.hidden) {
      const n = c.n_valued ?? c.n_variants;
      const held = Math.round(c.agreement * n);
      const season = SEASON_NAMES[c.season] ?? c.season;
      line.textContent = `Consensus: ${held} of ${n} definitions (${(100 * c.agreement).toFixed(0)} %) agree with ` +
        `${season.toLowerCase()}${c.agrees ? ", the majority's call" : `; the majority says ${
          (SEASON_NAMES[c.majority] ?? c.majority).toLowerCase()}`} · index 10–90 %: ${fixed(c.p10, 1)}–${
          fixed(c.p90, 1)}, median ${fixed(c.median, 1)}`;
    }
    const m = data.latest ? data.margin : null;
    const margin = $("margin");
    margin.hidden = !m || m.margin === null || m.margin === undefined;
    if (!margin.hidden) {
      const next = SEASON_NAMES[m.next_season] ?? m.next_season;
      const close = (m.n_close_above ?? 0) + (m.n_close_below ?? 0);
      margin.textContent = `Margin: ${m.margin} coin${m.margin === 1 ? "" : "s"} changing sides would make it ` +
        `${String(next).toLowerCase()}; ${close} coin${close === 1 ? "" : "s"} within ±${fixed(m.band_pct, 0)} pp ` +
        `of BTC's return${m.close_call ? " — a close call" : ""}`;
    }
  }

  function withAlpha(colour, alpha) {  // "#rrggbb" → rgba(); anything else as it is
    const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(colour);
    return m ? `rgba(${Number.parseInt(m[1], 16)},${Number.parseInt(m[2], 16)},${Number.parseInt(m[3], 16)},${alpha})`
      : colour;
  }

  function drawSeason() {
    const h = data.history;
    if (h.length) $("date").title = `a day from ${h[0].date} to ${h[h.length - 1].date}`;
    const shapes = data.periods.filter((p) => p.season === "altcoin" || p.season === "bitcoin").map((p) => ({
      type: "rect", xref: "x", yref: "paper", x0: p.start, x1: addDays(p.end, 1), y0: 0, y1: 1, layer: "below",
      line: { width: 0 }, fillcolor: p.season === "altcoin" ? css("--alt") : css("--btc"), opacity: 0.18,
    }));
    for (const y of [25, 75]) {
      shapes.push({ type: "line", xref: "paper", x0: 0, x1: 1, y0: y, y1: y, line: { color: css("--muted"),
        width: 1, dash: "dot" } });
    }
    const layout = baseLayout();
    layout.shapes = shapes;
    layout.yaxis = { ...layout.yaxis, range: [0, 100], title: { text: "index" } };
    layout.showlegend = false;
    const traces = [{
      type: "scatter", mode: "lines", name: "Altcoin Season Index", x: h.map((p) => p.date),
      y: h.map((p) => p.value), line: { color: css("--accent"), width: 1.5 }, connectgaps: false,
      hovertemplate: "%{y:.1f}<extra></extra>",
    }];
    const band = data.band;  // the consensus 10-90 % band, where the server has it
    $("band-note").hidden = !band.length;
    if (band.length) {
      $("band-variants").textContent = data.consensus?.n_variants ? String(data.consensus.n_variants) : "the";
      const x = band.map((p) => p.date);
      traces.push(
        { type: "scatter", mode: "lines", name: "consensus 90 %", x, y: band.map((p) => p.p90), connectgaps: false,
          line: { width: 0 }, hovertemplate: "90 %: %{y:.1f}<extra></extra>" },
        { type: "scatter", mode: "lines", name: "consensus 10 %", x, y: band.map((p) => p.p10), connectgaps: false,
          line: { width: 0 }, fill: "tonexty", fillcolor: withAlpha(css("--accent"), 0.2),
          hovertemplate: "10 %: %{y:.1f}<extra></extra>" });
    }
    return plot("season-chart", traces, layout);
  }

  async function drawDominance() {
    const d = data.dominance;
    const x = d.map((p) => p.date);
    const traces = [
      { type: "scatter", mode: "lines", name: "BTC", x, y: d.map((p) => p.value), line: { color: css("--btc") },
        hovertemplate: "%{y:.2f} %<extra>BTC</extra>" },
      { type: "scatter", mode: "lines", name: "ETH", x, y: d.map((p) => p.eth_dominance), visible: state.eth,
        line: { color: "#6f7cf5" }, hovertemplate: "%{y:.2f} %<extra>ETH</extra>" },
    ];
    if (state.stable) {
      traces.push({ type: "scatter", mode: "lines", name: "stablecoins (of all coins)", x: data.stable.map((p) => p.date),
        y: data.stable.map((p) => p.stablecoin_dominance), line: { color: css("--alt") },
        hovertemplate: "%{y:.2f} %<extra>stablecoins</extra>" });
    }
    const layout = baseLayout();
    layout.yaxis = { ...layout.yaxis, title: { text: "% of market cap" }, rangemode: "tozero" };
    const basis = data.dominanceMethod?.dominance;
    $("dominance-caption").textContent = basis ? `Dominance, percent of the market cap of ${basis}.`
      : "Dominance, percent of the universe's market cap.";
    if (state.price) {
      traces.push({ type: "scatter", mode: "lines", name: "BTC price (USD)", x: data.price.map((p) => p.date),
        y: data.price.map((p) => p.price), yaxis: "y2", line: { color: css("--muted"), width: 1 },
        hovertemplate: "$%{y:,.0f}<extra>BTC price</extra>" });
      layout.yaxis2 = { overlaying: "y", side: "right", type: "log", showgrid: false, title: { text: "USD" } };
      layout.margin = { ...layout.margin, r: 56 };
    }
    await plot("dominance-chart", traces, layout);
  }

  // coins by return, highest first, those without one last: the bars and the CSV
  const breakdownRows = (b) => [...b.values].sort((p, q) => (q.coin_return_pct ?? -Infinity) -
    (p.coin_return_pct ?? -Infinity));

  async function drawBreakdown() {
    const b = data.breakdown;
    const rows = breakdownRows(b);
    const color = (r) => (r.coin_id === "bitcoin" || !r.eligible ? css("--neutral") : r.beats_btc ? css("--alt")
      : css("--bad"));
    const btc = rows.find((r) => r.btc_return_pct !== null)?.btc_return_pct ?? null;
    const layout = baseLayout();
    layout.showlegend = false;
    layout.hovermode = "closest";
    layout.margin = { ...layout.margin, b: 64 };
    const labelled = rows.length * 9 <= $("breakdown-chart").clientWidth;  // else only on hover
    const clip = clipRange(rows.map((r) => r.coin_return_pct), [btc, 0]);
    const clipped = (y) => clip !== null && y !== null && (y > clip[1] || y < clip[0]);
    layout.xaxis = { type: "category", tickangle: -60, automargin: true, tickfont: { size: 10 },
      showticklabels: labelled,
      tickvals: rows.map((r) => r.coin_id), ticktext: rows.map((r) => (r.symbol ?? r.coin_id).toUpperCase()) };
    layout.yaxis = { ...layout.yaxis, title: { text: `${b.method.window}-day return, %` }, ticksuffix: " %" };
    layout.shapes = btc === null ? [] : [{ type: "line", xref: "paper", x0: 0, x1: 1, y0: btc, y1: btc,
      line: { color: css("--btc"), width: 2, dash: "dash" } }];
    const cut = rows.filter((r) => clipped(r.coin_return_pct));
    if (clip !== null) {
      layout.yaxis.range = clip;
      layout.yaxis.autorange = false;
      // the bars cut at the edge carry their value, written at the edge (the most extreme first, at most 12)
      layout.annotations = [...cut].sort((p, q) => Math.abs(q.coin_return_pct) - Math.abs(p.coin_return_pct))
        .slice(0, 12).map((r) => {
          const high = r.coin_return_pct > clip[1];
          return { x: r.coin_id, y: high ? clip[1] : clip[0], xref: "x", yref: "y", showarrow: false,
            text: `${r.coin_return_pct > 0 ? "+" : ""}${Math.round(r.coin_return_pct).toLocaleString("en-US")} %`,
            textangle: -90, yanchor: high ? "top" : "bottom", font: { size: 10, color: css("--fg") },
            bgcolor: withAlpha(css("--card"), 0.85) };
        });
    }
    $("breakdown-caption").firstChild.textContent =
      `${b.date}: each coin's ${b.method.window}-day return; the dashed line is BTC's (${pct(btc)}). ` +
      "Green beat BTC, red did not, grey: BTC itself or not eligible. " + (cut.length ? `${cut.length} bar${
        cut.length === 1 ? " runs" : "s run"} past the scale (hatched, value written at the edge), so the others stay ` +
        "readable. " : "");
    await plot("breakdown-chart", [{
      type: "bar", x: rows.map((r) => r.coin_id), y: rows.map((r) => r.coin_return_pct),
      marker: { color: rows.map(color), pattern: { shape: rows.map((r) => (clipped(r.coin_return_pct) ? "/" : "")) } },
      customdata: rows.map((r) => [r.rank, r.beats_btc ? "beat BTC" : r.eligible
        ? "did not beat BTC" : "not eligible"]),
      hovertemplate: "%{x} (rank %{customdata[0]}): %{y:.2f} %, %{customdata[1]}<extra></extra>",
    }], layout);
  }

  // the y range that keeps the bulk of the bars readable: 3 interquartile ranges beyond the quartiles (and `keep`,
  // BTC's return and 0, always in view); null when no bar lies beyond it, or too few bars to tell
  function clipRange(values, keep) {
    const v = values.filter((x) => x !== null && Number.isFinite(x)).sort((a, b) => a - b);
    if (v.length < 8) return null;
    const q = (p) => {
      const i = (v.length - 1) * p;
      const lo = Math.floor(i);
      return v[lo] + (v[Math.ceil(i)] - v[lo]) * (i - lo);
    };
    const spread = Math.max(q(0.75) - q(0.25), 1);
    let hi = q(0.75) + 3 * spread;
    let lo = q(0.25) - 3 * spread;
    for (const k of keep) if (k !== null && Number.isFinite(k)) { hi = Math.max(hi, k); lo = Math.min(lo, k); }
    if (v[v.length - 1] <= hi && v[0] >= lo) return null;
    hi = Math.min(hi, v[v.length - 1]);
    lo = Math.max(lo, v[0]);
    const pad = 0.06 * (hi - lo);
    return [lo - pad, hi + pad];
  }

  function drawPeriods() {
    $("periods-note").textContent = state.min_days > 1
      ? `Runs of at least ${state.min_days} days of one season, newest first; shorter runs are left out ` +
        "(choose 1 day to list every run)."
      : "Every run of one season, newest first, however short.";
    const body = document.querySelector("#periods tbody");
    const rows = [...data.periods].reverse().map((p) => {
      const tr = document.createElement("tr");
      const cells = [SEASON_NAMES[p.season], p.start, p.ongoing ? `${p.end} (ongoing)` : p.end, String(p.days),
        fixed(p.peak, 1), p.peak_date];
      cells.forEach((text, i) => {
        const td = document.createElement("td");
        td.textContent = text;
        if (i === 0) td.className = `season-${p.season}`;
        if (i === 3 || i === 4) td.classList.add("num");
        tr.append(td);
      });
      return tr;
    });
    body.replaceChildren(...rows);
  }

  // -- range and zoom -----------------------------------------------------------------------------------------------
  function lastDay() {  // of the season history; of dominance while the history is not in (or failed)
    const h = data.history.length ? data.history : data.dominance;
    return h.length ? h[h.length - 1].date : null;
  }

  function shownRange() {
    const last = lastDay();
    if (Object.hasOwn(RANGES, state.range) && last) return [addDays(last, -RANGES[state.range]), last];
    const m = /^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$/.exec(state.range);
    return m ? [m[1], m[2]] : null;
  }

  function applyRange(ids = ["season-chart", "dominance-chart"]) {
    const range = shownRange();
    const update = range ? { "xaxis.range": range, "xaxis.autorange": false } : { "xaxis.autorange": true };
    syncing += 1;
    const done = ids.filter((id) => $(id).data).map((id) => window.Plotly.relayout($(id), update));
    return Promise.all(done).finally(() => { syncing -= 1; });
  }

  function onZoom(event) {
    if (syncing) return;
    let range = null;
    if (event["xaxis.range[0]"] !== undefined) range = [event["xaxis.range[0]"], event["xaxis.range[1]"]];
    else if (Array.isArray(event["xaxis.range"])) range = event["xaxis.range"];
    else if (!event["xaxis.autorange"]) return;
    state.range = range ? `${String(range[0]).slice(0, 10)}..${String(range[1]).slice(0, 10)}` : "all";
    writeUrl();
    showControls();
    applyRange();
  }

  // -- CSV ----------------------------------------------------------------------------------------------------------
  function inRange(rows) {
    const range = shownRange();
    return range ? rows.filter((r) => r.date >= range[0] && r.date <= range[1]) : rows;
  }

  function csvOf(kind) {
    const cell = (v) => (v === null || v === undefined ? "" : /[",\n]/.test(String(v)) ? `"${String(v).replaceAll('"',
      '""')}"` : String(v));
    const table = (cols, rows) => [cols.join(","), ...rows.map((r) => cols.map((c) => cell(r[c])).join(","))].join("\n");
    if (kind === "season") {
      return table(["date", "value", "bitcoin_season_index", "n_eligible", "n_outperforming", "season"],
        inRange(data.history));
    }
    if (kind === "dominance") {
      const stable = new Map(data.stable.map((p) => [p.date, p.stablecoin_dominance]));
      const price = new Map(data.price.map((p) => [p.date, p.price]));
      const cols = ["date", "value", ...(state.eth ? ["eth_dominance"] : []),
        ...(state.stable ? ["stablecoin_dominance_all_coins"] : []), ...(state.price ? ["btc_price_usd"] : [])];
      const rows = inRange(data.dominance).map((p) => ({ ...p, stablecoin_dominance_all_coins: stable.get(p.date),
        btc_price_usd: price.get(p.date) }));
      return table(cols, rows);
    }
    if (kind === "breakdown") {
      const b = data.breakdown;
      const rows = b ? breakdownRows(b).map((r) => ({ date: b.date, ...r })) : [];
      return table(["date", "rank", "coin_id", "symbol", "coin_return_pct", "btc_return_pct", "eligible", "beats_btc"],
        rows);
    }
    return table(["season", "start", "end", "days", "peak", "peak_date", "ongoing"], [...data.periods].reverse());
  }

  function download(kind) {
    const blob = new Blob([`${csvOf(kind)}\n`], { type: "text/csv" });
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = `coinseason-${kind}-top${state.top}-w${state.window}-${state.exclude}.csv`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }

  // -- live updates -------------------------------------------------------------------------------------------------
  // season and dominance pushes mean new daily data: everything is fetched again. intraday pushes (the live feed of
  // `coinseason serve --live`) are shown as they come, beside the daily figures and apart from them.
  let streamOpened = false;  // the stream has been open once: a later failure is the network's or a restart's
  function connectStream(delay = 1000) {
    const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/v1/stream`);
    let pending = null;
    ws.onopen = () => {
      streamOpened = true;
      ws.send(JSON.stringify({ subscribe: ["season", "dominance", "intraday"] }));
      delay = 1000;
    };
    ws.onmessage = (event) => {
      let message;
      try { message = JSON.parse(event.data); } catch { return; }
      if (message.subscribed) { $("live").textContent = "on"; $("ws-note").hidden = true; return; }
      if (message.topic === "intraday") { drawIntraday(message); return; }
      if (message.topic !== "season" && message.topic !== "dominance") return;
      const live = $("live");
      live.dataset.count = String(Number(live.dataset.count) + 1);
      live.textContent = `updated ${new Date().toISOString().slice(11, 19)} UTC`;
      clearTimeout(pending);  // season and dominance arrive together: one refresh for both
      pending = setTimeout(() => loadAll("live"), 250);
    };
    ws.onclose = () => {
      if (!streamOpened && (apiKey || keyAsked)) {
        // the server wants a key, and a browser cannot send a header on a WebSocket (nor may a key go in the URL)
        $("live").textContent = "off";
        $("ws-note").hidden = false;
        return;
      }
      $("live").textContent = "reconnecting…";
      setTimeout(() => connectStream(Math.min(delay * 2, 30000)), delay);
    };
  }

  function drawIntraday(message) {
    const d = message.data ?? {};
    const at = d.as_of ?? message.sent_at ?? "";
    const m = d.method ?? {};
    $("intraday").hidden = false;
    $("live-asi").textContent = fixed(d.value, 1);
    $("live-btcd").textContent = pct(d.btc_dominance);
    $("live-time").dateTime = at;
    $("live-time").textContent = at ? `${at.slice(0, 10)} ${at.slice(11, 19)} UTC` : "–";
    $("live-method").textContent = m.top && m.window ? `top ${m.top}, ${m.window}-day window` : "";
    $("live-badge").textContent = d.stale ? "live · stale" : "live";
    $("intraday").classList.toggle("is-stale", Boolean(d.stale));
    $("intraday").dataset.count = String(Number($("intraday").dataset.count ?? 0) + 1);
  }

  // -- API key ------------------------------------------------------------------------------------------------------
  const KEY_STORE = "coinseason-api-key";
  let apiKey = "";
  let keyAsked = false;  // the server answered 401: it serves no anonymous reads
  try { apiKey = localStorage.getItem(KEY_STORE) ?? ""; } catch { /* private mode */ }

  function askForKey(detail) {
    keyAsked = true;
    $("access").open = true;
    $("key-status").textContent = apiKey ? `The key was refused: ${detail}` : "This server needs an API key.";
  }

  function saveKey(event) {
    event.preventDefault();
    apiKey = $("apikey").value.trim();
    try {
      if (apiKey) localStorage.setItem(KEY_STORE, apiKey);
      else localStorage.removeItem(KEY_STORE);
    } catch { /* private mode: kept for this page only */ }
    $("key-status").textContent = apiKey ? "Key saved in this browser." : "No key: anonymous reads.";
    loadAll("key");
  }

  // -- methodology --------------------------------------------------------------------------------------------------
  let methodology = null;
  async function loadMethodology() {
    if (methodology) return;
    methodology = api("methodology").then(drawMethodology, (err) => {
      methodology = null;
      $("methodology-body").textContent = `Could not load the methodology: ${err.message}`;
    });
    await methodology;
  }

  function drawMethodology(m) {
    const el = (tag, text, cls) => {
      const e = document.createElement(tag);
      if (text !== undefined) e.textContent = text;
      if (cls) e.className = cls;
      return e;
    };
    const facts = el("ul");
    const members = Object.entries(m.exclusion_members ?? {});
    for (const text of [
      `Methodology version ${m.methodology_version}.`,
      `Altcoin season at an index ≥ ${m.thresholds.altcoin_season_at}; Bitcoin season at ≤ ` +
        `${m.thresholds.bitcoin_season_at}; neutral between.`,
      `Exclusion set version ${m.exclusion_list_version}: ${m.excluded_classes.join(", ")}.`,
      ...members.map(([source, coins]) => `${source}: ${coins.length} coins excluded.`),
    ]) facts.append(el("li", text));
    const terms = el("dl");
    for (const [term, text] of Object.entries(m.definitions)) {
      terms.append(el("dt", term.replaceAll("_", " ")), el("dd", text));
    }
    $("methodology-body").replaceChildren(facts, terms);
    $("methodology").dataset.loaded = "1";
  }

  // -- status -------------------------------------------------------------------------------------------------------
  function setStatus(text) { $("status").textContent = text; }
  function setNote(text) { $("note").hidden = !text; $("note").textContent = text; }
  function clearError() { $("error").hidden = true; }
  function showError(errors) {
    const list = Array.isArray(errors) ? errors : [errors];
    $("error").hidden = false;
    $("error").textContent = `Could not load: ${list.map((e) => e.message).join("; ")}`;
    setStatus("Error");
  }

  // -- theme --------------------------------------------------------------------------------------------------------
  const THEMES = ["auto", "light", "dark"];
  function setTheme(theme) {
    if (theme === "auto") delete document.documentElement.dataset.theme;
    else document.documentElement.dataset.theme = theme;
    $("theme").textContent = `Theme: ${theme}`;
    try { localStorage.setItem("coinseason-theme", theme); } catch { /* private mode */ }
  }

  function redraw() {  // colours come from the CSS of the theme in force; only what was drawn is drawn again
    const jobs = [];
    if ($("season-chart").data) jobs.push(drawSeason());
    if ($("dominance-chart").data) jobs.push(drawDominance());
    if (data.breakdown) jobs.push(drawBreakdown());
    Promise.all(jobs).then(() => applyRange()).catch(showError);
  }

  // -- wiring -------------------------------------------------------------------------------------------------------
  function wire() {
    let saved = "auto";
    try { saved = localStorage.getItem("coinseason-theme") ?? "auto"; } catch { /* private mode */ }
    setTheme(THEMES.includes(saved) ? saved : "auto");
    showControls();
    $("theme").addEventListener("click", () => {
      const now = document.documentElement.dataset.theme ?? "auto";
      setTheme(THEMES[(THEMES.indexOf(now) + 1) % THEMES.length]);
      redraw();
    });
    matchMedia("(prefers-color-scheme: dark)").addEventListener("change", redraw);
    $("controls").addEventListener("submit", (event) => {
      event.preventDefault();
      const form = event.currentTarget;
      if (!form.reportValidity()) return;
      const next = { top: Number($("top").value), window: Number($("window").value), exclude: $("exclude").value };
      if (next.top === state.top && next.window === state.window && next.exclude === state.exclude) return;
      Object.assign(state, next);
      writeUrl();
      loadAll("controls");
    });
    $("exclude").addEventListener("change", () => $("controls").requestSubmit());
    for (const id of ["top", "window"]) {
      $(id).addEventListener("change", () => { if ($(id).checkValidity()) $("controls").requestSubmit(); });
    }
    for (const button of document.querySelectorAll("[data-range]")) {
      button.addEventListener("click", () => {
        state.range = button.dataset.range;
        writeUrl();
        showControls();
        applyRange();
      });
    }
    for (const id of ["eth", "stable", "price"]) {
      $(id).addEventListener("change", async () => {
        state[id] = $(id).checked;
        writeUrl();
        try {
          if (id === "stable" && state.stable && !data.stable.length) await loadStable();
          if (id === "price" && state.price && !data.price.length) await loadPrice();
          await drawDominance();
          await applyRange();
          document.body.dataset.toggled = String(Number(document.body.dataset.toggled ?? 0) + 1);
        } catch (err) { showError(err); }
      });
    }
    $("min-days").addEventListener("change", () => {
      state.min_days = Number($("min-days").value);
      writeUrl();
      loadAll("controls");
    });
    $("date").addEventListener("change", () => {
      const typed = $("date").value.trim();
      if (typed && !isDay(typed)) {
        setNote(`"${typed}" is not a day: write it as YYYY-MM-DD, e.g. 2024-03-18.`);
        return;
      }
      state.date = typed;
      setNote("");
      writeUrl();
      checkDate();
      loadBreakdown().then(clearError, showError);
    });
    $("today").addEventListener("click", () => {
      state.date = "";
      setNote("");
      writeUrl();
      showControls();
      loadBreakdown().then(clearError, showError);
    });
    $("apikey").value = apiKey;
    $("key-form").addEventListener("submit", saveKey);
    $("methodology").addEventListener("toggle", () => { if ($("methodology").open) loadMethodology(); });
    for (const button of document.querySelectorAll("[data-csv]")) {
      button.addEventListener("click", () => download(button.dataset.csv));
    }
  }

  // Requests start now, while plotly.js (the next deferred script) is still loading; drawing waits for it.
  const first = loadAll("start");
  domReady.then(() => {
    wire();
    connectStream();
    return first;
  });
  window.coinseason = { state: () => ({ ...state }), data, csvOf };
})();
