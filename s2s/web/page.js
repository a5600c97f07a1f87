// The s2s page: sends the text box's lines to POST /translate and shows each line's
// translation, the selected line's n-best list and the attention of its best translation.
// Plain JavaScript, no libraries: the page works offline, served by the package itself.
"use strict";

const $ = (id) => document.getElementById(id);
const WORD_START = "\u2581"; // sentencepiece's mark of a piece that begins a word
const EOS = "</s>";
let results = [];

async function showModel() {
  try {
    const info = await (await fetch("info")).json();
    if (info.search) $("beam").value = info.search.beam;
    const data = info.config && info.config.data;
    const langs = data ? `${data.src_lang} \u2192 ${data.tgt_lang}` : "";
    const size = typeof info.parameters === "number" ? `${info.parameters.toLocaleString("en")} parameters` : "";
    const bleu = info.best_valid_bleu == null ? "" : `validation BLEU ${info.best_valid_bleu}`;
    $("model").textContent = [langs, size, bleu].filter(Boolean).join(", ");
  } catch (e) {
    $("model").textContent = "(model information unavailable)";
  }
}

// The server's error message, or the HTTP status where the body is not the API's JSON.
async function errorOf(response) {
  try {
    return (await response.json()).error || response.statusText;
  } catch (e) {
    return `${response.status} ${response.statusText}`;
  }
}

function status(text, isError) {
  $("status").textContent = text;
  $("status").classList.toggle("error", Boolean(isError));
}

async function translate(event) {
  event.preventDefault();
  const lines = $("source").value.replace(/\r/g, "").split("\n");
  while (lines.length > 1 && lines[lines.length - 1].trim() === "") lines.pop();
  if (!lines.some((line) => line.trim())) {
    status("Type a sentence to translate.", true);
    return;
  }
  const beam = parseInt($("beam").value, 10);
  const body = { text: lines, attention: true };
  if (beam > 0) body.beam = beam;
  const nbest = parseInt($("nbest").value, 10);
  if (nbest > 0 && beam > 0) body.nbest = Math.min(nbest, beam);
  status("translating\u2026");
  $("translate").disabled = true;
  try {
    const started = performance.now();
    const response = await fetch("translate", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    if (!response.ok) throw new Error(await errorOf(response));
    results = (await response.json()).translations;
    status(`${results.length} line${results.length === 1 ? "" : "s"} in ${Math.round(performance.now() - started)} ms`);
    showResults();
  } catch (e) {
    status(e.message, true);
  } finally {
    $("translate").disabled = false;
  }
}

function showResults() {
  const output = $("output");
  output.replaceChildren();
  results.forEach((result, i) => {
    const item = document.createElement("li");
    item.textContent = result.text;
    item.addEventListener("click", () => select(i));
    output.appendChild(item);
  });
  $("results").hidden = false;
  const first = results.findIndex((result) => result.attention && result.attention.length);
  select(first < 0 ? 0 : first);
}

function select(index) {
  [...$("output").children].forEach((item, i) => item.classList.toggle("selected", i === index));
  const result = results[index];
  const list = $("nbest-list");
  list.replaceChildren();
  for (const option of result.nbest || [{ text: result.text, score: result.score }]) {
    const item = document.createElement("li");
    const score = document.createElement("span");
    score.className = "score";
    score.textContent = option.score.toFixed(4);
    item.append(score, option.text);
    list.appendChild(item);
  }
  drawAttention(result.attention);
}

// Words as lists of piece indices: a piece that starts with WORD_START begins a word; EOS is none.
function words(pieces) {
  const out = [];
  pieces.forEach((piece, i) => {
    if (piece === EOS) return;
    if (!out.length || piece.startsWith(WORD_START)) out.push([]);
    out[out.length - 1].push(i);
  });
  return out;
}

// The source word that target word `tw` attends to most: attention summed over both words' pieces.
function alignedWord(weights, tw, sourceWords) {
  let best = -1, bestMass = -1;
  sourceWords.forEach((sw, k) => {
    let mass = 0;
    for (const t of tw) for (const s of sw) mass += weights[t][s];
    if (mass > bestMass) { best = k; bestMass = mass; }
  });
  return best;
}

function wordSpans(container, pieces, groups) {
  container.replaceChildren();
  return groups.map((group, k) => {
    const span = document.createElement("span");
    span.className = "word";
    span.textContent = group.map((i) => pieces[i]).join("").replace(new RegExp(WORD_START, "g"), "");
    container.append(span, k + 1 < groups.length ? " " : "");
    return span;
  });
}

// One block per sentence (or part) translated: its words, then its heatmap.
function drawAttention(blocks) {
  const container = $("attention");
  container.replaceChildren();
  for (const block of blocks || []) container.appendChild(drawBlock(block));
}

function drawBlock({ source, target, weights }) {
  const block = document.createElement("div");
  block.className = "block";
  const wordLines = document.createElement("p");
  wordLines.className = "words";
  const sourceLine = document.createElement("span"), targetLine = document.createElement("span");
  sourceLine.className = "source-words";
  targetLine.className = "target-words";
  wordLines.append(sourceLine, document.createElement("br"), targetLine);
  const scroll = document.createElement("div");
  scroll.className = "scroll";
  const table = document.createElement("table");
  table.className = "heatmap";
  scroll.appendChild(table);
  block.append(wordLines, scroll);

  const head = table.createTHead().insertRow();
  head.appendChild(document.createElement("th"));
  const columns = source.map((piece) => {
    const th = document.createElement("th");
    th.textContent = piece;
    head.appendChild(th);
    return th;
  });
  const body = table.createTBody();
  const rows = target.map((piece, t) => {
    const row = body.insertRow();
    const th = document.createElement("th");
    th.textContent = piece;
    row.appendChild(th);
    weights[t].forEach((w, s) => {
      const cell = row.insertCell();
      cell.style.background = `rgba(21, 67, 170, ${w})`;
      cell.title = `${piece} \u2192 ${source[s]}: ${w.toFixed(3)}`;
    });
    return row;
  });
  const sourceWords = words(source), targetWords = words(target);
  const sourceSpans = wordSpans(sourceLine, source, sourceWords);
  const targetSpans = wordSpans(targetLine, target, targetWords);
  const clear = () => {
    for (const el of block.querySelectorAll(".aligned, .pointed")) el.classList.remove("aligned", "pointed");
  };
  const point = (j) => {
    clear();
    const k = alignedWord(weights, targetWords[j], sourceWords);
    targetSpans[j].classList.add("pointed");
    for (const t of targetWords[j]) rows[t].classList.add("pointed");
    if (k < 0) return;
    sourceSpans[k].classList.add("aligned");
    for (const s of sourceWords[k]) columns[s].classList.add("aligned");
  };
  targetSpans.forEach((span, j) => span.addEventListener("mouseenter", () => point(j)));
  rows.forEach((row, t) => row.addEventListener("mouseenter", () => {
    const j = targetWords.findIndex((group) => group.includes(t));
    if (j >= 0) point(j); else clear();
  }));
  table.addEventListener("mouseleave", clear);
  return block;
}

$("form").addEventListener("submit", translate);
$("source").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) translate(event);
});
showModel();
