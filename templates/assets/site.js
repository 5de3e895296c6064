// newsvault site script: the search page. Loaded as an external file (no inline script), so a
// Content-Security-Policy of script-src 'self' holds. Results are built with DOM calls and
// textContent, never innerHTML, so nothing from an article can run as markup.
(function () {
  "use strict";
  var root = document.body.getAttribute("data-root") || "";
  var form = document.getElementById("search-form");
  if (!form) { return; }
  var input = document.getElementById("search-input");
  var status = document.getElementById("search-status");
  var list = document.getElementById("search-results");

  function el(name, className, text) {
    var node = document.createElement(name);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function show(data) {
    list.textContent = "";
    status.textContent = data.hits.length === 0
      ? "没有找到“" + data.query + "”"
      : "找到 " + data.total + " 篇" + (data.total > data.hits.length ? "，显示前 " + data.hits.length + " 篇" : "");
    data.hits.forEach(function (hit) {
      var item = el("li", "hit");
      var link = el("a", null, hit.title);
      link.href = root + hit.url;
      item.appendChild(link);
      item.appendChild(el("span", "meta", hit.source + " · " + hit.time + (hit.gone ? " · 已从来源删除" : "")));
      var snippet = el("p", "snippet");
      hit.snippet.forEach(function (piece) {
        snippet.appendChild(piece.hit ? el("mark", null, piece.text) : document.createTextNode(piece.text));
      });
      item.appendChild(snippet);
      list.appendChild(item);
    });
  }

  function search(query) {
    if (!query) { status.textContent = ""; list.textContent = ""; return; }
    status.textContent = "搜索中…";
    fetch(root + "api/search?q=" + encodeURIComponent(query), { headers: { "Accept": "application/json" } })
      .then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok) { throw new Error(body.error || ("HTTP " + response.status)); }
          return body;
        });
      })
      .then(show)
      .catch(function (error) {
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
