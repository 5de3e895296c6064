// newsvault site script: the search page. Loaded as an external file (no inline script), so a
// Content-Security-Policy of script-src 'self' holds. Results are built with DOM calls and
// textContent, never innerHTML, so nothing from an article can run as markup.
//
// Two ways to search: `newsvault serve` answers GET api/search (JSON); a site on a static host
// has no such thing (a 404 page, or any answer that is not JSON), and the search then reads the
// index that `newsvault build` wrote under search/ (src/publish/shards.rs documents the format;
// queryTerms, fnv1a32 and decode below must stay in step with it).
(function () {
  "use strict";
  var root = document.body.getAttribute("data-root") || "";
  var form = document.getElementById("search-form");
  if (!form) { return; }
  var input = document.getElementById("search-input");
  var status = document.getElementById("search-status");
  var list = document.getElementById("search-results");
  var more = document.createElement("button");
  more.type = "button";
  more.className = "more";
  more.textContent = "显示更多";
  more.hidden = true;
  list.parentNode.insertBefore(more, list.nextSibling);

  var MAX_QUERY_CHARS = 200; // as the server
  var MAX_OFFSET = 1000;     // results the API skips at most (a later page), as the server
  var PAGE = 20;             // results shown at a time
  var MAX_TERMS = 32;        // terms looked up in the static index, at most
  var mode = null;           // "api" or "static", once known
  var generation = 0;        // the search being shown; older answers are dropped

  function el(name, className, text) {
    var node = document.createElement(name);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  // Full-width forms (ＣＯＶＩＤ, ２０２２) as their ASCII characters, the ideographic space as a
  // space, before lower-casing, as both indexes read text (crate::search::fold_width).
  function fold(text) {
    return text.replace(/[\uFF01-\uFF5E]/g, function (c) {
      return String.fromCharCode(c.charCodeAt(0) - 0xFEE0);
    }).replace(/\u3000/g, " ");
  }

  function lowerChar(c) { return fold(c).toLowerCase(); }

  // Highlighting: `text` cut into pieces, those equal to one of `words` (folded and lower-case,
  // compared character by character, case-insensitively) marked as hits. The words are each
  // query word's runs of letters, digits and CJK characters, longest first, as the server's
  // snippets mark them: "冬奥" marks 冬奥, 冬奥，韩国 marks 冬奥 and 韩国.
  function highlightWords(query) {
    var words = [], keys = [];
    query.split(/\s+/).forEach(function (w) {
      var run = [];
      Array.from(w + " ").map(lowerChar).forEach(function (c) {
        if (isCjk(c) || ALNUM.test(c)) { run.push(c); return; }
        if (run.length > 0 && keys.indexOf(run.join("")) < 0) { keys.push(run.join("")); words.push(run); }
        run = [];
      });
    });
    return words.sort(function (a, b) { return b.length - a.length; });
  }

  function mark(text, words) {
    var chars = Array.from(text || "");
    var lower = chars.map(lowerChar);
    var hit = chars.map(function () { return false; });
    words.forEach(function (word) {
      for (var i = 0; i + word.length <= lower.length; i++) {
        var same = true;
        for (var j = 0; j < word.length && same; j++) { same = lower[i + j] === word[j]; }
        if (same) {
          for (j = 0; j < word.length; j++) { hit[i + j] = true; }
          i += word.length - 1;
        }
      }
    });
    var pieces = [];
    chars.forEach(function (c, i) {
      var last = pieces[pieces.length - 1];
      if (last && last.hit === hit[i]) { last.text += c; } else { pieces.push({ text: c, hit: hit[i] }); }
    });
    return pieces;
  }

  function appendPieces(node, pieces) {
    pieces.forEach(function (piece) {
      node.appendChild(piece.hit ? el("mark", null, piece.text) : document.createTextNode(piece.text));
    });
  }

  // One result: {title, url, source, time, gone, snippet: [{text, hit}]}.
  function renderHit(hit, words) {
    var item = el("li", "hit");
    var link = el("a");
    link.href = root + hit.url;
    appendPieces(link, mark(hit.title, words));
    item.appendChild(link);
    item.appendChild(el("span", "meta", hit.source + " · " + hit.time + (hit.gone ? " · 已从来源删除" : "")));
    var snippet = el("p", "snippet");
    appendPieces(snippet, hit.snippet);
    item.appendChild(snippet);
    list.appendChild(item);
  }

  function found(total, shown, query) {
    return total === 0
      ? "没有找到“" + query + "”"
      : "找到 " + total + " 篇" + (total > shown ? "，显示前 " + shown + " 篇" : "");
  }

  function getJSON(url, options) {
    return fetch(url, options).then(function (response) {
      if (!response.ok) { throw new Error("HTTP " + response.status + " " + url); }
      return response.json();
    });
  }

  // --- The server's API --------------------------------------------------------------------

  // The API's answer (the results after the `offset` best), or null when there is no API here
  // (a static host).
  function searchApi(query, offset) {
    var url = root + "api/search?q=" + encodeURIComponent(query) + (offset ? "&offset=" + offset : "");
    return fetch(url, { headers: { "Accept": "application/json" } })
      .then(function (response) {
        var type = response.headers.get("Content-Type") || "";
        if (type.indexOf("application/json") < 0) { return null; }
        return response.json().then(function (body) {
          if (!response.ok) { throw new Error(body.error || ("HTTP " + response.status)); }
          return body;
        });
      }, function () { return null; });
  }

  // The API's first page; 显示更多 asks it for the next (offset), as long as there are more.
  function showApi(data, words, query, current) {
    list.setAttribute("data-search", "api");
    var shown = 0;
    function add(page) {
      page.hits.forEach(function (hit) { renderHit(hit, words); });
      shown += page.hits.length;
      status.textContent = found(page.total, shown, page.query);
      more.hidden = shown >= page.total || page.hits.length === 0 || shown > MAX_OFFSET;
    }
    more.onclick = function () {
      more.hidden = true;
      searchApi(query, shown).then(function (page) {
        if (current !== generation) { return; }
        if (!page) { throw new Error("no answer from api/search"); }
        add(page);
      }).catch(function (error) {
        if (current === generation) { status.textContent = "搜索失败：" + error.message; }
      });
    };
    add(data);
  }

  // --- The static index (search/) ----------------------------------------------------------

  var CJK = [[0x3040, 0x30FF], [0x3400, 0x4DBF], [0x4E00, 0x9FFF], [0xAC00, 0xD7AF],
             [0xF900, 0xFAFF], [0x20000, 0x3134F]];
  var ALNUM = /[\p{Alphabetic}\p{N}]/u;
  var MAX_WORD_BYTES = 64;
  var DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  var DIGIT = {};
  Array.from(DIGITS).forEach(function (c, i) { DIGIT[c] = i; });
  var encoder = new TextEncoder();

  function isCjk(c) {
    var cp = c.codePointAt(0);
    return CJK.some(function (r) { return cp >= r[0] && cp <= r[1]; });
  }

  // The terms a query asks for: pairs of neighbouring CJK characters (a character standing
  // alone, itself), words of other letters and digits folded (fold) and lower-cased.
  function queryTerms(query) {
    var terms = [], run = [], word = "";
    function add(term) { if (terms.indexOf(term) < 0) { terms.push(term); } }
    function endRun() {
      if (run.length === 1) { add(run[0]); }
      for (var i = 1; i < run.length; i++) { add(run[i - 1] + run[i]); }
      run = [];
    }
    function endWord() {
      if (word) {
        var lower = fold(word).toLowerCase();
        if (encoder.encode(lower).length <= MAX_WORD_BYTES) { add(lower); }
        word = "";
      }
    }
    Array.from(query).forEach(function (c) {
      if (isCjk(c)) {
        endWord();
        run.push(c);
      } else {
        endRun();
        if (ALNUM.test(c)) { word += c; } else { endWord(); }
      }
    });
    endRun();
    endWord();
    return terms;
  }

  // FNV-1a, 32 bits, of the term's UTF-8: which shard holds it.
  function fnv1a32(text) {
    var bytes = encoder.encode(text), hash = 0x811c9dc5;
    for (var i = 0; i < bytes.length; i++) {
      hash ^= bytes[i];
      hash = Math.imul(hash, 0x01000193) >>> 0;
    }
    return hash;
  }

  // Postings: `~` and a bitmap of 6 documents a digit, or gaps in groups of 5 bits (a digit of
  // 32 or more: more groups follow). Ascending document numbers within the segment.
  function decode(text) {
    var docs = [], i, d;
    if (text.charAt(0) === "~") {
      for (i = 1; i < text.length; i++) {
        d = DIGIT[text.charAt(i)];
        for (var bit = 0; bit < 6; bit++) { if (d & (1 << bit)) { docs.push((i - 1) * 6 + bit); } }
      }
      return docs;
    }
    var previous = -1, value = 0, scale = 1;
    for (i = 0; i < text.length; i++) {
      d = DIGIT[text.charAt(i)];
      value += (d & 31) * scale;
      if (d & 32) { scale *= 32; } else { previous += value + 1; docs.push(previous); value = 0; scale = 1; }
    }
    return docs;
  }

  function intersect(a, b) {
    var out = [], i = 0, j = 0;
    while (i < a.length && j < b.length) {
      if (a[i] === b[j]) { out.push(a[i]); i++; j++; } else if (a[i] < b[j]) { i++; } else { j++; }
    }
    return out;
  }

  var manifest = null; // a promise
  var files = {};      // URL → promise of its JSON

  function loadManifest() {
    if (!manifest) {
      manifest = getJSON(root + "search/manifest.json", { cache: "no-cache" });
      manifest.catch(function () { manifest = null; });
    }
    return manifest;
  }

  function file(url) {
    if (!files[url]) {
      files[url] = getJSON(url);
      files[url].catch(function () { delete files[url]; });
    }
    return files[url];
  }

  function segmentOf(m, n) {
    return m.segments.filter(function (s) { return s.first <= n && n < s.first + s.size; })[0];
  }

  // The documents of one segment holding every term: [{n, score}], score = the terms in the
  // title.
  function matchSegment(m, segment, terms) {
    return Promise.all(terms.map(function (term) {
      var url = root + "search/terms/" + segment.first + "-" + segment.size + "/" +
        (fnv1a32(term) % segment.shards) + ".json?v=" + segment.v;
      return file(url).then(function (shard) {
        return Object.prototype.hasOwnProperty.call(shard, term) ? shard[term] : null;
      });
    })).then(function (values) {
      if (values.some(function (v) { return v === null; })) { return []; }
      var lists = values.map(function (v) { return v.split(" "); });
      var docs = lists.map(function (l) { return decode(l[0]); })
        .sort(function (a, b) { return a.length - b.length; })
        .reduce(intersect);
      var score = {};
      lists.forEach(function (l) {
        if (l.length > 1) { intersect(docs, decode(l[1])).forEach(function (d) { score[d] = (score[d] || 0) + 1; }); }
      });
      return docs.map(function (d) { return { n: segment.first + d, score: score[d] || 0 }; });
    });
  }

  // Every match, the most title hits first, then the newest.
  function searchStatic(query) {
    var terms = queryTerms(query).slice(0, MAX_TERMS);
    if (terms.length === 0) {
      return Promise.reject(new Error("查询中没有可搜索的字词（字母、数字或汉字）"));
    }
    return loadManifest().then(function (m) {
      if (m.format !== 1) { throw new Error("未知的索引格式 " + m.format); }
      return Promise.all(m.segments.map(function (s) { return matchSegment(m, s, terms); }))
        .then(function (parts) {
          var hits = [].concat.apply([], parts);
          hits.sort(function (a, b) { return (b.score - a.score) || (b.n - a.n); });
          return { manifest: m, hits: hits };
        });
    });
  }

  // The documents' entries: {title, url, source, time, gone, excerpt}.
  function entries(m, hits) {
    return Promise.all(hits.map(function (hit) {
      var url = root + "search/docs/" + Math.floor(hit.n / m.doc_chunk) + ".json?v=" + segmentOf(m, hit.n).v;
      return file(url).then(function (chunk) { return chunk[hit.n % m.doc_chunk] || null; });
    }));
  }

  function showStatic(result, words, query, current) {
    list.setAttribute("data-search", "static");
    var shown = 0;
    function page() {
      var next = result.hits.slice(shown, shown + PAGE);
      more.hidden = true;
      return entries(result.manifest, next).then(function (docs) {
        if (current !== generation) { return; }
        docs.forEach(function (doc) {
          if (!doc) { return; }
          renderHit({ title: doc.title, url: doc.url, source: doc.source, time: doc.time,
                      gone: doc.gone, snippet: mark(doc.excerpt, words) }, words);
        });
        shown += next.length;
        status.textContent = found(result.hits.length, shown, query);
        more.hidden = shown >= result.hits.length;
      });
    }
    more.onclick = function () {
      page().catch(function (error) { status.textContent = "搜索失败：" + error.message; });
    };
    return page();
  }

  // --- The page ----------------------------------------------------------------------------

  function search(query) {
    var current = ++generation;
    list.textContent = "";
    more.hidden = true;
    if (!query) { status.textContent = ""; return; }
    if (Array.from(query).length > MAX_QUERY_CHARS) {
      status.textContent = "搜索失败：查询最多 " + MAX_QUERY_CHARS + " 个字符";
      return;
    }
    status.textContent = "搜索中…";
    var words = highlightWords(query);
    (mode === "static" ? Promise.resolve(null) : searchApi(query, 0))
      .then(function (data) {
        if (current !== generation) { return; }
        if (data) {
          mode = "api";
          showApi(data, words, query, current);
          return;
        }
        mode = "static";
        return searchStatic(query).then(function (result) {
          if (current === generation) { return showStatic(result, words, query, current); }
        });
      })
      .catch(function (error) {
        if (current !== generation) { return; }
        list.textContent = "";
        status.textContent = "搜索失败：" + error.message;
      });
  }

  var initial = new URLSearchParams(window.location.search).get("q") || "";
  input.value = initial;
  search(initial.trim());
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var query = input.value.trim();
    history.replaceState(null, "", "?q=" + encodeURIComponent(query));
    search(query);
  });
}());
